"""How much relevance a misspelled query loses, with the typo rewriter off and on.

    python benchmarks/typo_robustness.py [--sets crowdflower homedepot] [--max-queries N] [--seed 0]

Each labelled query is searched clean, with one seeded typo and with two (an insertion, deletion,
substitution or transposition of letters in a word of at least 5 letters; two typos go into two
such words where the query has them). The first letter is never touched (the rewriter keeps it,
as Meilisearch does). Queries without such a word stay as they are in every variant. Each variant
is ranked by the default pipeline (the served settings, e5, no photos) with ``query_rewriters``
empty and ``["typo"]``; nDCG@10 and its loss relative to the clean query without the rewriter.

Then the clean queries with a real misspelling (a word in neither the catalog's text nor an
English word list) and all clean queries: nDCG@10 with the rewriter off and on, paired t-test.

Each nDCG is given twice: over the top 10 as found (an unjudged product is not relevant) and
condensed (unjudged products dropped first; Sakai 2007). The sets' judgments were pooled from
the products another engine returned for the query *as typed*, so a corrected query that finds
the right but unjudged products scores 0 for them in the first; the condensed figure is not
biased that way (it only orders the judged products found).
"""
from __future__ import annotations

import argparse
import random
import re
import string
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, save, table
from shoprank.catalog import Catalog
from shoprank.engine import ShopRank
from shoprank.evaluation.datasets import load_dataset
from shoprank.evaluation.metrics import evaluate_run
from shoprank.types import Query
from signals_common import settings

_WORD = re.compile(r"[A-Za-z]{5,}")
_LETTERS = re.compile(r"[a-z]+")
CONDENSED_DEPTH = 100


def typo(word: str, rng: random.Random) -> str:
    """One edit of ``word`` after its first letter."""
    i = rng.randrange(1, len(word))
    op = rng.choice(("insert", "delete", "substitute", "transpose"))
    if op == "insert":
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i:]
    if op == "delete":
        return word[:i] + word[i + 1:]
    if op == "substitute":
        return word[:i] + rng.choice([c for c in string.ascii_lowercase if c != word[i].lower()]) + word[i + 1:]
    i = min(i, len(word) - 2)
    if word[i] == word[i + 1]:  # swapping equal letters changes nothing: substitute instead
        return word[:i] + rng.choice([c for c in string.ascii_lowercase if c != word[i].lower()]) + word[i + 1:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def misspell(text: str, n: int, rng: random.Random) -> str:
    """``text`` with ``n`` typos, in ``n`` different long words where it has them."""
    spans = [m.span() for m in _WORD.finditer(text)]
    if not spans:
        return text
    chosen = rng.sample(spans, min(n, len(spans)))
    times = {span: 1 for span in chosen}
    times[chosen[0]] += n - len(chosen)  # fewer long words than typos: more in the same word
    out = text
    for (a, b), k in sorted(times.items(), reverse=True):  # from the end: earlier spans keep their place
        word = out[a:b]
        for _ in range(k):
            word = typo(word, rng)
        out = out[:a] + word + out[b:]
    return out


def engines(name: str, max_queries: int | None) -> tuple[ShopRank, ShopRank, object]:
    ds = load_dataset(name, DATA_DIR, **({"max_queries": max_queries} if max_queries else {}))
    s = settings(text_encoder="e5", image_encoder="none", query_rewriters=[])
    root = s.index_dir(f"typo-{name}-{max_queries or 'all'}")
    try:
        plain = ShopRank.open(root, s)
    except FileNotFoundError:
        plain = ShopRank.build(Catalog(ds.products), root, s)
    typo_settings = s.model_copy(update={"query_rewriters": ["typo"]})
    typo_engine = ShopRank(plain.artifacts, typo_settings, plain.text_encoder, plain.image_encoder)
    return plain, typo_engine, ds


def ndcg(engine: ShopRank, queries: dict[str, str], qrels: dict) -> tuple[dict[str, float], dict[str, float]]:
    """nDCG@10 of each query: over the top 10 as found (an unjudged product counts as not
    relevant), and *condensed* (Sakai 2007: unjudged products dropped from the top 100 first)."""
    run, condensed = {}, {}
    for qid, text in queries.items():
        hits = engine.search(Query(text=text, k=CONDENSED_DEPTH)).hits
        run[qid] = {h.product.id: float(CONDENSED_DEPTH - r) for r, h in enumerate(hits[:10])}
        judged = [h for h in hits if h.product.id in qrels.get(qid, {})][:10]
        condensed[qid] = {h.product.id: float(10 - r) for r, h in enumerate(judged)}
    out = []
    for r in (run, condensed):
        per_query = evaluate_run(qrels, r, ["ndcg@10"])[1]["ndcg@10"]
        out.append({qid: per_query.get(qid, 0.0) for qid in queries})
    return out[0], out[1]


def real_misspellings(queries: dict[str, str], catalog: Catalog) -> set[str]:
    """Queries with a word (letters only) in neither the catalog's text nor an English word list
    (the 82,765 words of the dictionary symspellpy ships)."""
    import symspellpy

    path = Path(symspellpy.__file__).parent / "frequency_dictionary_en_82_765.txt"
    english = {line.split()[0] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
    words: set[str] = set()
    for p in catalog.products:
        text = " ".join([p.title, p.description, p.category, *(v for vs in p.attributes.values() for v in vs)])
        words.update(_LETTERS.findall(text.lower()))
    return {qid for qid, text in queries.items()
            if any(w not in words and w not in english for w in _LETTERS.findall(text.lower()))}


def paired(a: dict[str, float], b: dict[str, float], qids: set[str] | dict) -> dict:
    from scipy.stats import ttest_rel

    x, y = [a[q] for q in qids], [b[q] for q in qids]
    if not x:
        return {"queries": 0}
    mx, my = sum(x) / len(x), sum(y) / len(y)
    p = float(ttest_rel(y, x).pvalue) if x != y else 1.0
    return {"queries": len(x), "ndcg@10 off": round(mx, 4), "ndcg@10 on": round(my, 4),
            "change": f"{(my / mx - 1) * 100:+.1f} %", "better": sum(v > u for u, v in zip(x, y)),
            "worse": sum(v < u for u, v in zip(x, y)), "paired t-test p": f"{p:.2g}"}


def measure(name: str, max_queries: int | None, seed: int) -> tuple[list[dict], list[dict]]:
    plain, corrected, ds = engines(name, max_queries)
    queries = {qid: text for qid, text in ds.queries.items() if ds.qrels.get(qid)}  # type: ignore[attr-defined]
    variants = {"clean": queries}
    for n in (1, 2):
        variants[f"{n} typo{'s' if n > 1 else ''}"] = {
            qid: misspell(text, n, random.Random(f"{seed}-{n}-{qid}")) for qid, text in queries.items()}
    rows: list[dict] = []
    clean: dict[str, dict[str, float]] = {}
    base: tuple[float, float] | None = None
    for variant, qs in variants.items():
        for label, engine in (("off", plain), ("on", corrected)):
            per_query, per_query_condensed = ndcg(engine, qs, ds.qrels)  # type: ignore[attr-defined]
            score = sum(per_query.values()) / len(per_query)
            cond = sum(per_query_condensed.values()) / len(per_query)
            base = (score, cond) if base is None else base
            if variant == "clean":
                clean[label], clean[f"{label} condensed"] = per_query, per_query_condensed
            changed = sum(qs[q] != queries[q] for q in qs)
            rows.append({"set": name, "queries": len(qs), "misspelled": changed, "variant": variant,
                         "typo rewriter": label, "ndcg@10": round(score, 4),
                         "vs clean (off)": f"{(score / base[0] - 1) * 100:+.1f} %",
                         "condensed ndcg@10": round(cond, 4),
                         "condensed vs clean (off)": f"{(cond / base[1] - 1) * 100:+.1f} %"})
    real = real_misspellings(queries, plain.artifacts.catalog)
    tests = [{"set": name, "subset": subset, "metric": metric,
              **paired(clean[f"off{suffix}"], clean[f"on{suffix}"], qids)}
             for subset, qids in (("real misspellings", real), ("all clean queries", queries))
             for metric, suffix in (("ndcg@10", ""), ("condensed ndcg@10", " condensed"))]
    return rows, tests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", nargs="+", default=["crowdflower"])
    ap.add_argument("--max-queries", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rows, tests = [], []
    for name in args.sets:
        r, t = measure(name, args.max_queries, args.seed)
        rows += r
        tests += t
    cols = ["set", "queries", "misspelled", "variant", "typo rewriter", "ndcg@10", "vs clean (off)",
            "condensed ndcg@10", "condensed vs clean (off)"]
    print(table(rows, cols))
    print()
    print(table(tests, ["set", "subset", "metric", "queries", "ndcg@10 off", "ndcg@10 on", "change", "better", "worse",
                        "paired t-test p"]))
    save("typo_robustness", {"args": vars(args), "rows": rows, "real_misspellings": tests})


if __name__ == "__main__":
    main()
