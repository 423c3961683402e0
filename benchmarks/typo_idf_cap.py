"""Can a rare candidate of an unsure typo correction outscore the common one in BM25?

    python benchmarks/typo_idf_cap.py [--set homedepot] [--seed 0]

Every labelled query with one seeded typo (as in typo_robustness.py) is read by the typo
rewriter; where it is unsure it searches the best candidate and the runner-up beside the query,
at weights 0.8 and 0.4.
For each such query: the top BM25 score of the runner-up's text over the top score of the best
candidate's text, each at its rewrite weight, with the runner-up's word scored by its own IDF
(before) and by the common word's (after, as the retriever does now). A ratio above 1 means the
rarer reading's products come first.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save, table
from shoprank.types import Query
from typo_robustness import engines, misspell


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default="homedepot")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    _, engine, ds = engines(args.set, None)
    lex = engine.artifacts.lexical
    ratios: dict[str, list[float]] = {"own IDF": [], "common word's IDF": []}
    raw: dict[str, list[float]] = {k: [] for k in ratios}
    for qid, text in ds.queries.items():  # type: ignore[attr-defined]
        if not ds.qrels.get(qid):  # type: ignore[attr-defined]
            continue
        plan = engine.understand(Query(text=misspell(text, 1, random.Random(f"{args.seed}-1-{qid}"))))
        typos = [r for r in plan.alternatives if r.origin == "typo"]
        if len(typos) < 2 or not typos[1].idf_from:
            continue
        best, runner = typos[0], typos[1]
        top = lex.search(best.text, 1)
        if not top:
            continue
        for label, idf_from in (("own IDF", None), ("common word's IDF", dict(runner.idf_from))):
            other = lex.search(runner.text, 1, idf_from=idf_from)
            if other:
                raw[label].append(other[0][1] / top[0][1])
                ratios[label].append(runner.weight * other[0][1] / (best.weight * top[0][1]))
    rows = [{"runner-up scored with": k, "queries": len(v), "median ratio": round(statistics.median(v), 3),
             "max ratio": round(max(v), 3), "runner-up ahead": sum(x > 1 for x in v),
             "unweighted median": round(statistics.median(raw[k]), 3), "unweighted max": round(max(raw[k]), 3),
             "unweighted ahead": sum(x > 1 for x in raw[k])}
            for k, v in ratios.items() if v]
    print("ratio: the runner-up's top BM25 score over the best candidate's, each at its rewrite weight "
          "(0.4 and 0.8); unweighted: the scores alone")
    print(table(rows, list(rows[0])))
    save("typo_idf_cap", {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
