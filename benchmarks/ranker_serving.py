"""Serving cost of each ranker for one query, one thread: LambdaMART (LightGBM vs onnxruntime,
TreeSHAP), the four neural fusion rankers (torch fp32 vs dynamic int8) and the cross-encoder's
top 30 (torch vs onnxruntime fp32 / int8), with model sizes.

    python benchmarks/ranker_serving.py                 # builds the Luma index under var/ if missing
    shoprank eval --dataset crowdflower --save-model var/models && python benchmarks/ranker_serving.py

The fusion rankers and the cross-encoder are timed on real Luma candidate batches (WANDS
queries, 200 candidates each, every Luma modality's query and product vectors). Their cost
depends on the network's shape, not on its weights, so the networks are built at the served
shape (hidden 64, Luma's modalities) and the cross-encoder is all-MiniLM-L6-v2 with its
one-logit head, as fine-tuning starts. LambdaMART needs a saved model and `shoprank eval`'s
feature log; without them its rows are skipped, saying so.
"""
from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import OUT, REPO, percentiles, save, table, wands_queries
from shoprank.ranking.base import CandidateBatch


def _timed(fn: Callable[..., object], inputs: list[tuple], warm: int = 5) -> dict[str, float]:
    """Percentiles of ``fn(*args)`` over ``inputs``, after ``warm`` calls on the first ones."""
    for args in inputs[:warm]:
        fn(*args)
    ms = []
    for args in inputs:
        t0 = time.perf_counter()
        fn(*args)
        ms.append((time.perf_counter() - t0) * 1000)
    return percentiles(ms)


def lambdamart(dataset: str = "crowdflower", n_queries: int = 200) -> list[dict]:
    import pyarrow.parquet as pq

    from shoprank.features.registry import FEATURE_NAMES
    from shoprank.ranking.lgbm import LambdaMARTRanker
    from shoprank.ranking.training import TrainingSet

    model_dir = REPO / "var" / "models" / dataset
    # The newest feature log of any eval run (--out benchmarks/out/eval*) with today's features.
    logs = sorted(OUT.glob(f"eval*/{dataset}/features.parquet"), key=lambda f: f.stat().st_mtime, reverse=True)
    log = next((f for f in logs if set(FEATURE_NAMES) <= set(pq.read_schema(f).names)), None)
    if not model_dir.is_dir() or log is None:
        print(f"LambdaMART skipped: needs {model_dir} and a feature log with every feature "
              f"(shoprank eval --dataset {dataset} --save-model var/models)")
        return []
    print(f"LambdaMART: {model_dir}, candidates from {log}")
    ts = TrainingSet.from_parquet(log)
    queries = [(CandidateBatch.from_features(ts.X[rows], ts.names),) for _, rows in ts.by_query()][:n_queries]
    size_kb = sum(f.stat().st_size for f in model_dir.iterdir() if f.is_file()) / 1024
    rows = []
    for backend in ("lightgbm", "onnx"):
        saved = LambdaMARTRanker.load(model_dir)
        model = LambdaMARTRanker(saved.booster, saved.feature_names, backend)  # type: ignore[arg-type]
        rows.append({"ranker": f"lambdamart ({backend})", "what": "score", "candidates":
                     int(np.mean([len(b) for b, in queries])), **_timed(model.score, queries),
                     "model_kb": round(size_kb)})
    rows.append({"ranker": "lambdamart", "what": "explain all (TreeSHAP)", "candidates": rows[0]["candidates"],
                 **_timed(model.explain, queries), "model_kb": round(size_kb)})
    return rows


def _luma_batches(n_queries: int) -> tuple[list[CandidateBatch], list[str], object]:
    from query_latency import _engine  # the Luma index under var/, built if missing
    from shoprank.types import Query

    engine = _engine()
    queries = wands_queries()[:n_queries]
    batches = [engine.candidates(Query(text=q, k=10, collapse_variants=False)).batch for q in queries]
    return batches, queries, engine


def _state_kb(net: object) -> float:
    import torch

    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)  # type: ignore[attr-defined]
    return buf.tell() / 1024


def fusion(batches: list[CandidateBatch], artifacts: object) -> list[dict]:
    import torch

    from shoprank.features.registry import FEATURE_NAMES
    from shoprank.ranking.neural import VARIANTS, NeuralFusionRanker, _build_net, index_modalities

    mods = index_modalities(artifacts)
    F = len(FEATURE_NAMES)
    rows = []
    for variant in VARIANTS:
        torch.manual_seed(0)
        net = _build_net(F, [d for _, d in mods], variant, 64, 0.1).eval()
        # Dynamic int8 for every linear layer except the transformer encoder's own (its fused
        # fast path reads their float weights directly).
        linears = {n for n, m in net.named_modules() if isinstance(m, torch.nn.Linear) and not n.startswith("encoder.")}
        int8 = torch.ao.quantization.quantize_dynamic(
            net, {n: torch.ao.quantization.default_dynamic_qconfig for n in linears}, dtype=torch.qint8)
        for precision, n in (("fp32", net), ("int8", int8)):
            model = NeuralFusionRanker(n, variant, mods, np.zeros(F), np.ones(F), {"hidden": 64, "dropout": 0.1})
            rows.append({"ranker": f"fusion_{variant} ({precision})", "what": "score",
                         "candidates": int(np.mean([len(b) for b in batches])),
                         **_timed(model.score, [(b,) for b in batches]),
                         "model_kb": round(_state_kb(n))})
    return rows


def cross_encoder(queries: list[str], batches: list[CandidateBatch], artifacts: object, top: int = 30) -> list[dict]:
    import torch

    from shoprank.ranking.cross_encoder import (
        CE_LAYERS,
        CE_MAX_LENGTH,
        POOLING,
        POOLINGS,
        CrossEncoder,
        OnnxCrossEncoder,
        product_text,
    )

    products = artifacts.catalog.products  # type: ignore[attr-defined]
    pairs = [(q, [product_text(products[p]) for p in b.positions[:top]]) for q, b in zip(queries, batches)]
    ce = CrossEncoder.from_minilm()
    out = REPO / "var" / "models" / "cross-encoder-bench"
    ce.export_onnx(out, "onnx-int8")
    torch.set_num_threads(1)
    scorers = {"torch fp32": ce.score, "onnx fp32": OnnxCrossEncoder(out, "onnx-fp32").score,
               "onnx int8": OnnxCrossEncoder(out, "onnx-int8").score}
    sizes = {"torch fp32": sum(p.numel() * 4 for p in ce.model.parameters()) / 1024,
             "onnx fp32": (out / "model-fp32.onnx").stat().st_size / 1024,
             "onnx int8": (out / "model-int8.onnx").stat().st_size / 1024}
    ref = [ce.score(q, texts) for q, texts in pairs]
    rows = []
    for name, score in scorers.items():
        pct = _timed(score, pairs)
        agree = np.mean([np.corrcoef(r, score(q, t))[0, 1] for r, (q, t) in zip(ref, pairs)])
        rows.append({"ranker": f"cross-encoder ({name})", "what": f"score top {top}", "candidates": top, **pct,
                     "model_kb": round(sizes[name]), "corr_to_torch": round(float(agree), 4)})
    # What serving can afford: the first CE_LAYERS layers, CE_MAX_LENGTH tokens a pair (the quality of
    # this configuration fine-tuned is in `shoprank eval --cross-encoder`'s tables).
    # Both heads, timed in turn on the same pairs: the served mean-pooled one and the [CLS] one it replaced.
    for pooling in POOLINGS:
        small_dir = REPO / "var" / "models" / f"cross-encoder-bench-small-{pooling}"
        small = CrossEncoder.from_minilm(max_length=CE_MAX_LENGTH, layers=CE_LAYERS, pooling=pooling)
        small.export_onnx(small_dir, "onnx-int8")
        served = OnnxCrossEncoder(small_dir, "onnx-int8", CE_MAX_LENGTH)
        kb = round((small_dir / "model-int8.onnx").stat().st_size / 1024)
        name = f"cross-encoder (onnx int8, {CE_LAYERS} layers, {CE_MAX_LENGTH} tokens, {pooling} head"
        rows.append({"ranker": f"{name}{', served' if pooling == POOLING else ''})", "what": f"score top {top}",
                     "candidates": top, **_timed(served.score, pairs), "model_kb": kb})
        if pooling == POOLING:  # the same model with every pair tokenized on each call, as it was served before

            def tokenized(query: str, texts: list[str], m: OnnxCrossEncoder = served) -> np.ndarray:
                enc = m.tokenizer([query] * len(texts), texts, truncation="longest_first", padding=True,
                                  max_length=m.max_length, return_tensors="np")
                feed = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
                return m.session.run(None, feed)[0][:, 0]

            rows.append({"ranker": f"{name}, tokenizer on every pair)", "what": f"score top {top}",
                         "candidates": top, **_timed(tokenized, pairs), "model_kb": kb})
    return rows


def main(n_queries: int = 100) -> None:
    import torch

    torch.set_num_threads(1)
    batches, queries, engine = _luma_batches(n_queries)
    art = engine.artifacts  # type: ignore[attr-defined]
    rows = lambdamart() + fusion(batches, art) + cross_encoder(queries, batches, art)
    cols = ["ranker", "what", "candidates", "n", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "model_kb", "corr_to_torch"]
    print(f"one query at a time, one thread; Luma: {len(batches)} WANDS queries, "
          f"{int(np.mean([len(b) for b in batches]))} candidates on average")
    print(table(rows, cols))
    print("results:", save("ranker_serving", {"rows": rows}))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
