"""Why is the served cross-encoder weak on Home Depot? Variants side by side on one split.

A sample of Home Depot queries gets its own catalog and LambdaMART run (out of fold, as in
``shoprank eval``). Every variant is fine-tuned on the same 1,200 queries (judged products plus
``negatives`` unjudged ones from LambdaMART's top 30) and reorders LambdaMART's top 30 for the
same 400 other queries. Printed per variant: nDCG@10 of that reordering and the AUC with which
the cross-encoder puts judged products above unjudged ones *within* the top 30 (0.5 = chance).

    python benchmarks/cross_encoder_diag.py --queries 2000 \\
        --variant "" --variant "pooling=cls,lr=3e-5" --variant "layers=6,tokens=64,epochs=1"

A variant is ``key=value`` pairs over the served configuration: layers, tokens, pooling (mean|cls),
lr, epochs, negatives, keep (first|alternate: which three of the six layers), embeddings
(frozen|trained).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, table
from shoprank.catalog import Catalog
from shoprank.config import get_settings
from shoprank.engine import ShopRank
from shoprank.evaluation.datasets import load_dataset
from shoprank.evaluation.harness import CE_TOP, _reorder_top, ce_training_group, evaluate_dataset
from shoprank.evaluation.metrics import METRICS, evaluate_run
from shoprank.ranking.cross_encoder import (
    CE_EPOCHS,
    CE_LAYERS,
    CE_LR,
    CE_MAX_LENGTH,
    POOLING,
    CrossEncoder,
    product_text,
)

SERVED = {"layers": CE_LAYERS, "tokens": CE_MAX_LENGTH, "pooling": POOLING, "lr": CE_LR, "epochs": CE_EPOCHS,
          "negatives": 4, "keep": "first", "embeddings": "frozen"}


def parse(spec: str) -> dict:
    v = dict(SERVED)
    for kv in filter(None, spec.split(",")):
        k, val = kv.split("=", 1)
        if k not in v:
            raise SystemExit(f"unknown key {k!r}; one of {sorted(v)}")
        v[k] = type(v[k])(val)
    return v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--variant", action="append", default=None)
    args = ap.parse_args()
    settings = get_settings().model_copy(update={"image_encoder": "none"})
    ds = load_dataset("homedepot", settings.data_dir, max_queries=args.queries)
    out = OUT / "cross_encoder_diag"
    out.mkdir(parents=True, exist_ok=True)
    engine = ShopRank.build(Catalog(ds.products), out / f"index-{args.queries}", settings)
    lm = evaluate_dataset(engine, ds, pipelines=("lambdamart",), keep_runs=True).runs["lambdamart"]
    text = {p.id: product_text(p) for p in engine.artifacts.catalog.products}
    qids = sorted(lm)
    random.Random(0).shuffle(qids)
    n_test = min(400, len(qids) // 5)
    test, train = qids[:n_test], qids[n_test:n_test + 1200]

    def ndcg(run: dict) -> float:
        return evaluate_run({q: ds.qrels[q] for q in run}, run, METRICS, "x")[0]["ndcg@10"]

    rr = random.Random(1)
    rows = [{"variant": "LambdaMART (first stage)", "ndcg@10": round(ndcg({q: lm[q] for q in test}), 4)},
            {"variant": "random order of its top 30 (mean of 3)",
             "ndcg@10": round(float(np.mean([ndcg({q: _reorder_top(lm[q], [rr.random() for _ in range(CE_TOP)])
                                                   for q in test}) for _ in range(3)])), 4)}]
    in_top = np.mean([sum(p in ds.qrels[q] for p in list(lm[q])[:CE_TOP]) for q in test])
    print(f"judged products per query {np.mean([len(ds.qrels[q]) for q in test]):.2f}, "
          f"of them in LambdaMART's top 30 {in_top:.2f}")
    for spec in args.variant or [""]:
        v = parse(spec)
        groups = [ce_training_group(ds.queries[q], ds.qrels[q], list(lm[q])[:CE_TOP], text, v["negatives"])
                  for q in train]
        t0 = time.perf_counter()
        ce = CrossEncoder.from_minilm(max_length=v["tokens"], pooling=v["pooling"],
                                      layers=v["layers"] if v["keep"] == "first" else None)
        if v["keep"] == "alternate":  # every other layer, ending with the last
            import torch

            layers = ce.model.bert.encoder.layer
            keep = range(len(layers) - 1, -1, -len(layers) // v["layers"])
            ce.model.bert.encoder.layer = torch.nn.ModuleList([layers[i] for i in sorted(keep)][-v["layers"]:])
            ce.model.config.num_hidden_layers = v["layers"]
        ce.fit(groups, epochs=v["epochs"], lr=v["lr"], freeze_embeddings=v["embeddings"] == "frozen")
        train_s = time.perf_counter() - t0
        run, aucs = {}, []
        for q in test:
            top = list(lm[q])[:CE_TOP]
            s = ce.score(ds.queries[q], [text[p] for p in top])
            run[q] = _reorder_top(lm[q], s.tolist())
            j = np.array([p in ds.qrels[q] for p in top])
            if j.any() and (~j).any():
                aucs.append(float(np.mean(s[j][:, None] > s[~j][None, :])))
        rows.append({"variant": spec or "served", "ndcg@10": round(ndcg(run), 4),
                     "AUC judged>unjudged in top 30": round(float(np.mean(aucs)), 3), "train s": round(train_s)})
        print(table(rows[-1:], list(rows[-1])), flush=True)
    cols = ["variant", "ndcg@10", "AUC judged>unjudged in top 30", "train s"]
    print(table(rows, cols))
    (out / f"results-{args.queries}.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
