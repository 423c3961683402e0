"""LambdaMART serving: LightGBM predict vs onnxruntime, and TreeSHAP explanations, on 200-candidate
queries taken from the feature log of `shoprank eval`.

    shoprank eval --dataset crowdflower --save-model var/models && python benchmarks/ranker_serving.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, REPO, percentiles, save, table
from shoprank.ranking.base import CandidateBatch
from shoprank.ranking.lgbm import LambdaMARTRanker
from shoprank.ranking.training import TrainingSet


def main(dataset: str = "crowdflower") -> None:
    model_dir = REPO / "var" / "models" / dataset
    ts = TrainingSet.from_parquet(OUT / "eval" / dataset / "features.parquet")
    queries = [ts.X[ts.qids == q] for q in np.unique(ts.qids)][:200]
    rows = []
    for backend in ("lightgbm", "onnx"):
        saved = LambdaMARTRanker.load(model_dir)
        model = LambdaMARTRanker(saved.booster, saved.feature_names, backend)  # type: ignore[arg-type]
        for X in queries[:10]:
            model.score(CandidateBatch.from_features(X))
        ms = []
        for X in queries:
            t0 = time.perf_counter()
            model.score(CandidateBatch.from_features(X))
            ms.append((time.perf_counter() - t0) * 1000)
        rows.append({"what": f"score ({backend})", "rows_per_query": int(np.mean([len(x) for x in queries])),
                     **percentiles(ms)})
    ms = []
    for X in queries:
        t0 = time.perf_counter()
        model.explain(CandidateBatch.from_features(X))
        ms.append((time.perf_counter() - t0) * 1000)
    rows.append({"what": "explain (TreeSHAP)", "rows_per_query": rows[0]["rows_per_query"], **percentiles(ms)})
    print(f"model: {model_dir} ({model.booster.num_trees()} trees)")
    print(table(rows, list(rows[0])))
    print("results:", save("ranker_serving", {"dataset": dataset, "rows": rows}))


if __name__ == "__main__":
    main(*sys.argv[1:])
