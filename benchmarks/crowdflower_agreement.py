"""How far CrowdFlower's grades let any ranker go: how often the same text got two grades, and what
nDCG@10 a second panel of raters would score against the first.

CrowdFlower judged some (query, title, description) triples more than once. Those repeats give the
joint distribution of two panels' grades for the same text, P(g, g'). Drawing a second panel's grade
g' ~ P(g' | g) for every judged product and ranking each query's judged products by g' (ties in
random order; unjudged products left out, which only helps) gives the nDCG@10 that human raters
reach against each other. A ranker can in principle beat one panel (it may learn the mean grade),
so this is a yardstick, not a proof.

    python benchmarks/crowdflower_agreement.py [--lambdamart benchmarks/out/eval/crowdflower/lambdamart.per_query.json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, save, table
from shoprank.evaluation.datasets import load_dataset
from shoprank.evaluation.metrics import evaluate_run

GRADES = 4  # median_relevance 1..4, loaded as 0..3


def repeat_groups(csv: Path) -> list[np.ndarray]:
    """The grades (0..3) of every (query, title, description) judged more than once."""
    df = pd.read_csv(csv).fillna({"product_description": ""})
    groups = df.groupby(["query", "product_title", "product_description"])["median_relevance"]
    return [g.to_numpy() - 1 for _, g in groups if len(g) > 1]


def joint_counts(groups: list[np.ndarray]) -> np.ndarray:
    """Joint counts of the two grades of every ordered pair of judgments of the same text."""
    joint = np.zeros((GRADES, GRADES))
    for g in groups:
        for i in range(len(g)):
            for k in range(len(g)):
                if i != k:
                    joint[g[i], g[k]] += 1
    return joint


def second_panel(qrels: dict[str, dict[str, int]], joint: np.ndarray, rng: np.random.Generator) -> float:
    """nDCG@10 of ranking every query's judged products by a second panel's grades drawn from ``joint``."""
    # Add-half smoothing: a few grade pairs were never seen twice.
    cond = (joint + 0.5) / (joint + 0.5).sum(axis=1, keepdims=True)
    run = {}
    for qid, judged in qrels.items():
        second = {p: int(rng.choice(GRADES, p=cond[g])) for p, g in judged.items()}
        order = sorted(judged, key=lambda p: (-second[p], rng.random()))
        run[qid] = {p: float(len(order) - i) for i, p in enumerate(order)}
    return evaluate_run(qrels, run, ["ndcg@10"], "second_panel")[0]["ndcg@10"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lambdamart", type=Path, help="a per-query file of shoprank eval, for comparison")
    ap.add_argument("--draws", type=int, default=50, help="second panels drawn from the observed repeats")
    ap.add_argument("--boot", type=int, default=200, help="bootstrap resamples of the repeats, for an interval")
    args = ap.parse_args()
    ds = load_dataset("crowdflower", DATA_DIR)
    groups = repeat_groups(DATA_DIR / "relevance" / "crowdflower" / "train.csv")
    joint = joint_counts(groups)
    pairs = int(joint.sum() / 2)
    differ = float((joint.sum() - np.trace(joint)) / joint.sum())
    rng = np.random.default_rng(0)
    scores = [second_panel(ds.qrels, joint, rng) for _ in range(args.draws)]
    # The repeats are few (a grade-1 row has ~25 pairs): resample them to see how far that moves it.
    boot = [second_panel(ds.qrels, joint_counts([groups[i] for i in rng.integers(len(groups), size=len(groups))]),
                         rng) for _ in range(args.boot)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    rows = [{"ranking": "a second panel of raters (simulated from repeat judgments)",
             "nDCG@10": f"{np.mean(scores):.4f} ± {np.std(scores):.4f} (95 % bootstrap {lo:.4f}–{hi:.4f})"}]
    if args.lambdamart:
        per = json.loads(args.lambdamart.read_text())["ndcg@10"]
        rows.append({"ranking": f"LambdaMART ({args.lambdamart})", "nDCG@10": f"{np.mean(list(per.values())):.4f}"})
    print(f"repeat judgments: {pairs} pairs of rows with the same query and text, {differ:.1%} graded differently")
    print("joint grade counts (row: one judgment, column: the other; grades 0..3):")
    print(joint.astype(int))
    print(table(rows, ["ranking", "nDCG@10"]))
    print("results:", save("crowdflower_agreement", {"pairs": pairs, "differ": differ, "joint": joint.tolist(),
                                                    "second_panel_ndcg10": scores, "bootstrap": boot,
                                                    "rows": rows}))


if __name__ == "__main__":
    main()
