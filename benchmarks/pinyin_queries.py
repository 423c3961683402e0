"""Pinyin queries over Luma: does "hongse beibao" find what "红色背包" finds?

    python benchmarks/pinyin_queries.py [--queries 150] [--seed 0]

Chinese queries are made from the Chinese words of the query vocabulary
(:mod:`shoprank.catalog.vocabulary`): each product-type word alone, and colour + type and
gender + type pairs (a seeded sample, to ``--queries`` in all). Each is searched on the Luma index
with the default settings (e5, the default ranker, every default rewriter); the Chinese query's
top product is the target. Each query is then typed in pinyin (``pypinyin``) five ways — no
spaces ("hongsebeibao"), spaced by word ("hongse beibao"), by syllable ("hong se bei bao"), with
tone marks ("hóngsè bēibāo") and with tone numbers ("hong2se4 bei1bao1") — and scored by hit@1/3
of the target and how often the pinyin rewriter fired.
"""
from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

from pypinyin import Style, lazy_pinyin

sys.path.insert(0, str(Path(__file__).parent))
from common import save, table
from shoprank.catalog.vocabulary import COLORS, GENDERS, PRODUCT_TYPES
from shoprank.types import Query
from signals_common import luma_engine

_CJK = re.compile(r"^[\u4e00-\u9fff]{2,}$")  # one-character words are too ambiguous to be queries alone


def chinese_queries(n: int, seed: int) -> list[list[str]]:
    """Queries as lists of words: every multi-character type word, then seeded pairs."""
    types = [w for ws in PRODUCT_TYPES.values() for w in ws if _CJK.match(w)]
    colors = [next(w for w in ws if _CJK.match(w)) for ws in COLORS.values() if any(_CJK.match(w) for w in ws)]
    genders = [next(w for w in ws if _CJK.match(w)) for ws in GENDERS.values()]
    pairs = [[c, t] for c in colors for t in types] + [[g, t] for g in genders for t in types]
    random.Random(seed).shuffle(pairs)
    return [[t] for t in types] + pairs[:max(0, n - len(types))]


def forms(words: list[str]) -> dict[str, str]:
    """The ways a shopper might type ``words`` in pinyin."""
    syll = [lazy_pinyin(w, style=Style.NORMAL, v_to_u=False) for w in words]
    marks = [lazy_pinyin(w, style=Style.TONE) for w in words]
    numbers = [lazy_pinyin(w, style=Style.TONE3) for w in words]
    return {"no spaces": "".join(s for ws in syll for s in ws),
            "by word": " ".join("".join(ws) for ws in syll),
            "by syllable": " ".join(s for ws in syll for s in ws),
            "tone marks": " ".join("".join(ws) for ws in marks),
            "tone numbers": " ".join("".join(ws) for ws in numbers)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    engine = luma_engine()
    rows: dict[str, dict] = {}
    examples = []
    searched = 0
    for words in chinese_queries(args.queries, args.seed):
        chinese = "".join(words)
        target = engine.search(Query(text=chinese, k=1)).hits
        if not target:
            continue
        searched += 1
        want = target[0].product.id
        for form, text in forms(words).items():
            res = engine.search(Query(text=text, k=3))
            got = [h.product.id for h in res.hits]
            fired = any(r.origin == "pinyin" for r in res.rewrites)
            row = rows.setdefault(form, {"form": form, "queries": 0, "hit@1": 0, "hit@3": 0, "rewriter fired": 0})
            row["queries"] += 1
            row["hit@1"] += got[:1] == [want]
            row["hit@3"] += want in got
            row["rewriter fired"] += fired
            if want not in got and len(examples) < 20:
                examples.append({"chinese": chinese, "typed": text, "searched": res.query_text, "fired": fired})
    out = [{**r, "hit@1": round(r["hit@1"] / r["queries"], 3), "hit@3": round(r["hit@3"] / r["queries"], 3),
            "rewriter fired": round(r["rewriter fired"] / r["queries"], 3)} for r in rows.values()]
    print(f"{searched} Chinese queries with a result on Luma")
    print(table(out, ["form", "queries", "hit@1", "hit@3", "rewriter fired"]))
    for e in examples:
        print(e)
    save("pinyin_queries", {"args": vars(args), "rows": out, "misses": examples})


if __name__ == "__main__":
    main()
