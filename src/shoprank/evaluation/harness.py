"""Run every pipeline over a labelled set and score it.

Pipelines, side by side on the same candidates:

- ``bm25``, ``dense_text``: one retriever alone;
- ``rrf_hybrid``, ``linear_fusion``: all retrievers fused late;
- ``linear_ranker``: ranking v0 (hand-set weights) over the fused candidates;
- ``lambdamart``: LightGBM LambdaMART over the same features, scored out-of-fold with
  query-grouped cross-validation (no query is in both the training and the test folds).
"""
from __future__ import annotations

import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shoprank.evaluation.datasets import LabelledSet
from shoprank.evaluation.metrics import METRICS, evaluate_run
from shoprank.ranking.augment import perturb
from shoprank.ranking.base import CandidateBatch, Ranker
from shoprank.ranking.lgbm import LambdaMARTRanker
from shoprank.ranking.linear import LinearRanker
from shoprank.ranking.training import TrainingSet, collect_candidates, query_folds, training_set
from shoprank.search import Candidates

log = logging.getLogger(__name__)

PIPELINES: tuple[str, ...] = ("bm25", "dense_text", "rrf_hybrid", "linear_fusion", "linear_ranker", "lambdamart")
# The neural fusion rankers, one pipeline per variant (scored out of fold on LambdaMART's folds).
NEURAL_PIPELINES: tuple[str, ...] = ("fusion_early", "fusion_attention", "fusion_transformer", "fusion_late")
# The fine-tuned cross-encoder reranking LambdaMART's top CE_TOP (alone, and blended with LambdaMART).
CE_PIPELINES: tuple[str, ...] = ("cross_encoder", "lambdamart+ce")
CE_TOP = 30
DEPTH = 100  # results kept per query: recall@100 and MAP@100 need them


@dataclass
class EvalReport:
    dataset: str
    queries: int
    products: int
    means: dict[str, dict[str, float]] = field(default_factory=dict)                  # pipeline -> metric -> mean
    per_query: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)   # pipeline -> metric -> qid
    feature_importance: dict[str, float] = field(default_factory=dict)
    folds: int = 0
    model: LambdaMARTRanker | None = field(default=None, repr=False)  # trained on every query
    train_s: dict[str, float] = field(default_factory=dict)  # neural pipelines: training time over all folds
    # learned pipelines: p50 ms to score one query's candidates, one thread, and the saved model's size
    serving: dict[str, dict[str, float]] = field(default_factory=dict)
    # neural pipelines trained on every query (with keep_models): what --save-model writes
    neural_models: dict[str, Ranker] = field(default_factory=dict, repr=False)

    def best_baseline(self, metric: str = "ndcg@10") -> str:
        """The best pipeline that learns nothing (retrievers, fusions, the hand-set linear ranker)."""
        return max((p for p in self.means if p in PIPELINES and p != "lambdamart"), key=lambda p: self.means[p][metric])

    def save(self, out_dir: Path) -> Path:
        d = out_dir / self.dataset
        d.mkdir(parents=True, exist_ok=True)
        for pipe, per_q in self.per_query.items():
            (d / f"{pipe}.per_query.json").write_text(json.dumps(per_q, indent=1))
        summary = {"dataset": self.dataset, "queries": self.queries, "products": self.products, "folds": self.folds,
                   "means": self.means, "feature_importance": self.feature_importance, "train_s": self.train_s,
                   "serving": self.serving}
        (d / "summary.json").write_text(json.dumps(summary, indent=2))
        return d


def serving_cost(model: Ranker, batches: list[CandidateBatch], n: int = 50) -> dict[str, float]:
    """p50 milliseconds for ``model`` to score one query's candidates (the first ``n`` lists, after
    a warm-up), the mean list length, and the size of the model as saved."""
    batches = [b for b in batches if len(b)][:n]
    if not batches:
        return {}
    for b in batches[:3]:
        model.score(b)
    ms = []
    for b in batches:
        t0 = time.perf_counter()
        model.score(b)
        ms.append((time.perf_counter() - t0) * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        model.save(Path(tmp) / "m")
        size = sum(f.stat().st_size for f in (Path(tmp) / "m").rglob("*") if f.is_file())
    return {"score_ms_p50": round(float(np.median(ms)), 2), "model_kb": round(size / 1024),
            "candidates": round(float(np.mean([len(b) for b in batches])))}


def _top(pairs, products, depth: int = DEPTH) -> dict[str, float]:
    return {products[pos].id: float(s) for pos, s in list(pairs)[:depth]}


def evaluate_dataset(engine, ds: LabelledSet, n_folds: int = 5, num_rounds: int = 300,
                     pipelines: tuple[str, ...] = PIPELINES, rerank_k: int = 200,
                     log_features: Path | None = None, models: dict[str, Ranker] | None = None,
                     keep_models: bool = False, augment: int = 0,
                     cands: dict[str, Candidates] | None = None,
                     neural_train_queries: int | None = None) -> EvalReport:
    """Score ``pipelines`` on ``ds`` with an engine built over ``ds.products``; ``models``
    (name -> a trained ranker, e.g. saved after training on another set) are scored as they
    are, on every query, without cross-validation. ``augment`` > 0 adds, for each learned
    pipeline, a "+aug" twin trained with that many perturbed copies of each training query
    (:func:`shoprank.ranking.augment.perturb`; test queries are never augmented). ``cands``:
    the queries' candidates when already collected. ``neural_train_queries``: train each neural
    variant on at most this many (seeded) of a fold's training queries; every test query is scored."""
    products = engine.artifacts.catalog.products
    queries = {q: t for q, t in ds.queries.items() if ds.qrels.get(q)}
    cands = cands if cands is not None else collect_candidates(engine, queries, rerank_k)
    runs: dict[str, dict[str, dict[str, float]]] = {p: {} for p in pipelines}
    for name, model in (models or {}).items():
        runs[name] = {qid: _top(sorted(zip(c.positions, model.score(c.batch)), key=lambda t: -t[1]), products)
                      for qid, c in cands.items() if len(c.positions)}
    linear = LinearRanker(engine.settings.ranker_weights)  # v0 as this deployment configures it
    for qid, c in cands.items():
        if "bm25" in runs:
            runs["bm25"][qid] = _top(c.runs.get("bm25", []), products)
        if "dense_text" in runs:
            runs["dense_text"][qid] = _top(c.runs.get("text", []), products)
        if "rrf_hybrid" in runs:
            runs["rrf_hybrid"][qid] = _top(engine.retriever.fuse(c.runs, "rrf"), products)
        if "linear_fusion" in runs:
            runs["linear_fusion"][qid] = _top(engine.retriever.fuse(c.runs, "linear"), products)
        if "linear_ranker" in runs and len(c.positions):
            s = linear.score(c.batch)
            runs["linear_ranker"][qid] = _top(sorted(zip(c.positions, s), key=lambda t: -t[1]), products)

    report = EvalReport(ds.name, len(queries), len(products), folds=n_folds)
    ts = training_set(engine, cands, ds.qrels)
    if log_features is not None:
        ts.to_parquet(log_features)
    folds = list(query_folds(ts.qids, n_folds)) if len(ts.y) else []
    aug_cands: dict[str, Candidates] = {}
    if augment:
        rng = random.Random(0)
        chinese = engine.settings.text_encoder == "e5"
        variants = {f"{qid}~{k}": perturb(text, rng, chinese) for qid, text in queries.items() for k in range(augment)}
        aug_cands = collect_candidates(engine, {a: t for a, t in variants.items() if t != queries[_base(a)]}, rerank_k)
        runs.update({f"{p}+aug": {} for p in list(runs) if p == "lambdamart" or p.startswith("fusion_")})
    aug_ts = training_set(engine, aug_cands, {a: ds.qrels.get(_base(a), {}) for a in aug_cands}) if aug_cands \
        else None
    for ltr in [p for p in ("lambdamart", "lambdamart+aug") if p in runs]:
        oof = np.zeros(len(ts.y), np.float64)
        for train, test in folds:
            assert not set(ts.qids[train]) & set(ts.qids[test]), "a query leaked across folds"
            tr = ts.subset(train)
            if ltr.endswith("+aug") and aug_ts is not None:
                keep = set(ts.qids[train])
                tr = _concat(tr, aug_ts.subset(np.flatnonzero([_base(q) in keep for q in aug_ts.qids])))
            model = LambdaMARTRanker.fit(tr.X, tr.y, tr.group_sizes, num_rounds=num_rounds)
            oof[test] = model.score_matrix(ts.X[test])
        for qid in np.unique(ts.qids):
            rows = np.flatnonzero(ts.qids == qid)
            order = rows[np.argsort(-oof[rows], kind="stable")][:DEPTH]
            runs[ltr][str(qid)] = {str(ts.pids[r]): float(oof[r]) for r in order}
    if "lambdamart" in runs:
        full = LambdaMARTRanker.fit(ts.X, ts.y, ts.group_sizes, num_rounds=num_rounds)
        report.feature_importance = full.feature_importance()
        report.model = full
        report.serving["lambdamart"] = serving_cost(full, [c.batch for c in cands.values()])
    if any(p in runs for p in CE_PIPELINES) and "lambdamart" in runs:
        _cross_encoder_runs(engine, ds, queries, [(set(ts.qids[tr]), set(ts.qids[te])) for tr, te in folds],
                            runs["lambdamart"], {p: runs[p] for p in CE_PIPELINES if p in runs}, report)
    neural = [p for p in runs if p.startswith("fusion_")]
    if neural:
        _neural_runs(engine, cands, ds.qrels, [(set(ts.qids[tr]), set(ts.qids[te])) for tr, te in folds],
                     {p: runs[p] for p in neural}, report, keep_models, aug_cands, neural_train_queries)
    for pipe, run in runs.items():
        report.means[pipe], report.per_query[pipe] = evaluate_run(ds.qrels, run, METRICS, pipe)
        log.info("%s %s %s", ds.name, pipe, report.means[pipe])
    return report


def _cross_encoder_runs(engine, ds: LabelledSet, queries: dict[str, str], folds, lm: dict[str, dict[str, float]],
                        runs: dict[str, dict[str, dict[str, float]]], report: EvalReport) -> None:
    """Per fold: fine-tune a cross-encoder on the training queries' judged products (plus a few
    unjudged ones LambdaMART ranked high, as negatives) and rerank each test query's top
    ``CE_TOP`` of LambdaMART's out-of-fold ranking: by the cross-encoder alone, and by the sum
    of both scores standardised within the query."""
    from shoprank.ranking.cross_encoder import CrossEncoder, product_text

    catalog = engine.artifacts.catalog
    text = {p.id: product_text(p) for p in catalog.products}
    t0 = time.perf_counter()
    for train, test in folds:
        groups = []
        for qid in sorted(train):
            judged = ds.qrels.get(qid, {})
            negatives = [pid for pid in lm.get(qid, {}) if pid not in judged][:4]
            pids = [pid for pid in judged if pid in text] + negatives
            groups.append((queries[qid], [text[p] for p in pids],
                           np.array([judged.get(p, 0) for p in pids], np.float32)))
        ce = CrossEncoder.from_minilm().fit(groups)
        for qid in sorted(test):
            ranked = list(lm.get(qid, {}).items())
            top, rest = ranked[:CE_TOP], ranked[CE_TOP:]
            if not top:
                continue
            s_ce = ce.score(queries[qid], [text[p] for p, _ in top]).astype(np.float64)
            s_lm = np.array([s for _, s in top])
            z = lambda a: (a - a.mean()) / (a.std() or 1.0)  # noqa: E731
            tail = {p: float(s) - 1e6 for p, s in rest}  # below every reranked one, in LambdaMART's order
            if "cross_encoder" in runs:
                runs["cross_encoder"][qid] = {p: float(v) for (p, _), v in zip(top, s_ce)} | tail
            if "lambdamart+ce" in runs:
                runs["lambdamart+ce"][qid] = {p: float(v) for (p, _), v in zip(top, z(s_ce) + z(s_lm))} | tail
    for p in runs:
        report.train_s[p] = time.perf_counter() - t0


def _base(qid: str) -> str:
    """The query an augmented copy ("<qid>~<k>") was made from."""
    return qid.split("~", 1)[0]


def _concat(a: TrainingSet, b: TrainingSet) -> TrainingSet:
    return TrainingSet(np.concatenate([a.X, b.X]), np.concatenate([a.y, b.y]), np.concatenate([a.qids, b.qids]),
                       np.concatenate([a.pids, b.pids]))


def _neural_runs(engine, cands, qrels, folds, runs: dict[str, dict[str, dict[str, float]]],
                 report: EvalReport, keep_models: bool = False, aug_cands: dict | None = None,
                 max_train: int | None = None) -> None:
    """Each neural fusion variant trained on every fold's training queries (at most ``max_train``
    of them, sampled), scored on its test queries."""
    from shoprank.ranking.neural import ListInputs, NeuralFusionRanker, index_modalities

    mods = index_modalities(engine.artifacts)
    products = engine.artifacts.catalog.products
    lists = {}
    for qid, c in {**cands, **(aug_cands or {})}.items():
        if len(c.positions):
            judged = qrels.get(_base(qid), {})
            y = np.array([judged.get(products[p].id, 0) for p in c.positions], np.float32)
            lists[qid] = ListInputs.from_batch(c.batch, mods, y)
    for pipe, run in runs.items():
        variant = pipe.removeprefix("fusion_").removesuffix("+aug")
        t0 = time.perf_counter()
        for train, test in folds:
            use = [q for q in sorted(lists) if _base(q) in train and (pipe.endswith("+aug") or q in train)]
            if max_train is not None and len(use) > max_train:
                use = sorted(random.Random(0).sample(use, max_train))
            model = NeuralFusionRanker.fit([lists[q] for q in use], mods, variant)  # type: ignore[arg-type]
            for qid in sorted(test):
                if qid in lists:
                    s = model._forward(lists[qid])[0]
                    run[qid] = _top(sorted(zip(cands[qid].positions, s), key=lambda t: -t[1]), products)
        report.train_s[pipe] = time.perf_counter() - t0
        log.info("%s: %d folds in %.0f s", pipe, len(folds), report.train_s[pipe])
        report.serving[pipe] = serving_cost(model, [cands[q].batch for q in sorted(test) if q in cands])
        if keep_models and not pipe.endswith("+aug"):
            report.neural_models[pipe] = NeuralFusionRanker.fit([lists[q] for q in cands if q in lists], mods,
                                                                variant)  # type: ignore[arg-type]


def train_on_labels(engine, queries: dict[str, str], labels: dict[str, dict[str, dict[str, int]]],
                    truth: dict[str, dict[str, int]], n_folds: int = 5, num_rounds: int = 300,
                    rerank_k: int = 200, seed: int = 0) -> dict[str, dict[str, float]]:
    """LambdaMART trained on each of several label sets (e.g. click-derived judgments and the
    true grades), scored out-of-fold against ``truth`` on the same query folds; with the
    served linear ranker as a reference. Returns ``{name: {metric: mean}}``."""
    products = engine.artifacts.catalog.products
    cands = collect_candidates(engine, queries, rerank_k)
    sets = {name: training_set(engine, cands, qrels) for name, qrels in labels.items()}
    ref = training_set(engine, cands, truth)  # every set has the same rows in the same order
    runs: dict[str, dict[str, dict[str, float]]] = {f"lambdamart ({name})": {} for name in labels}
    linear = LinearRanker(engine.settings.ranker_weights)
    runs["linear_ranker"] = {qid: _top(sorted(zip(c.positions, linear.score(c.batch)), key=lambda t: -t[1]),
                                       products) for qid, c in cands.items() if len(c.positions)}
    for train, test in query_folds(ref.qids, n_folds, seed):
        for name, ts in sets.items():
            tr = ts.subset(train)
            model = LambdaMARTRanker.fit(tr.X, tr.y, tr.group_sizes, num_rounds=num_rounds)
            scores = model.score_matrix(ts.X[test])
            for qid in np.unique(ts.qids[test]):
                rows = np.flatnonzero(ts.qids[test] == qid)
                order = rows[np.argsort(-scores[rows], kind="stable")][:DEPTH]
                runs[f"lambdamart ({name})"][str(qid)] = {str(ts.pids[test][r]): float(scores[r]) for r in order}
    return {name: evaluate_run(truth, run, METRICS, name)[0] for name, run in runs.items()}
