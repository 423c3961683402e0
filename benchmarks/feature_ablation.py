"""What a group of features is worth to LambdaMART: the eval's own cross-validation (same folds,
seeds and rounds) over a feature log `shoprank eval` wrote, with all features and with each
named group left out; nDCG@10 etc. against the set's judgments, paired t-test against "all".

    shoprank eval --dataset homedepot --out benchmarks/out/eval
    python benchmarks/feature_ablation.py homedepot benchmarks/out/eval/homedepot/features.parquet \
        --drop title_trigram_cos,title_trigram_gap --drop title_prefix_cover,title_numbers,title_words
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, save, table
from shoprank.evaluation.datasets import load_dataset
from shoprank.evaluation.metrics import METRICS, evaluate_run
from shoprank.ranking.lgbm import LambdaMARTRanker
from shoprank.ranking.training import TrainingSet, query_folds

DEPTH = 100


def cross_validated(ts: TrainingSet, keep: list[str], rounds: int) -> dict[str, dict[str, float]]:
    """Out-of-fold LambdaMART scores over the ``keep`` columns, as runs (query -> product -> score)."""
    ts = TrainingSet(ts.X[:, [ts.names.index(n) for n in keep]], ts.y, ts.qids, ts.pids, keep)
    oof = np.zeros(len(ts.y))
    for train, test in query_folds(ts.qids, 5):
        tr = ts.subset(train)
        model = LambdaMARTRanker.fit(tr.X, tr.y, tr.group_sizes, num_rounds=rounds, feature_names=tr.names)
        oof[test] = model.score_matrix(ts.X[test])
    runs: dict[str, dict[str, float]] = {}
    for qid, rows in ts.by_query():
        order = rows[np.argsort(-oof[rows], kind="stable")][:DEPTH]
        runs[qid] = {str(ts.pids[r]): float(oof[r]) for r in order}
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset")
    ap.add_argument("features", type=Path, help="features.parquet written by shoprank eval")
    ap.add_argument("--drop", action="append", default=[], help="comma-separated features to leave out together")
    ap.add_argument("--rounds", type=int, default=300)
    args = ap.parse_args()
    ds = load_dataset(args.dataset, DATA_DIR)
    ts = TrainingSet.from_parquet(args.features)
    variants = {"all": ts.names}
    for group in args.drop:
        names = group.split(",")
        unknown = set(names) - set(ts.names)
        if unknown:
            ap.error(f"unknown features: {sorted(unknown)}")
        variants[f"without {group}"] = [n for n in ts.names if n not in names]
    rows, base = [], None
    for name, keep in variants.items():
        t0 = time.perf_counter()
        means, per = evaluate_run(ds.qrels, cross_validated(ts, keep, args.rounds), METRICS, name)
        nd = per["ndcg@10"]
        base = base or nd
        q = sorted(base)
        a, b = np.array([nd[k] for k in q]), np.array([base[k] for k in q])
        rows.append({"features": name, **{m: round(v, 4) for m, v in means.items()},
                     "vs all": f"{(a.mean() / b.mean() - 1) * 100:+.2f} %",
                     "p": "" if nd is base else f"{stats.ttest_rel(a, b).pvalue:.2g}",
                     "cv s": round(time.perf_counter() - t0)})
        print(rows[-1], flush=True)
    print(f"{args.dataset}: {len(set(ts.qids))} queries, LambdaMART {args.rounds} rounds, 5 query-grouped folds")
    print(table(rows, list(rows[0])))
    print("results:", save(f"feature_ablation_{args.dataset}", {"rows": rows}))


if __name__ == "__main__":
    main()
