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
from shoprank.ranking.cross_encoder import CE_EPOCHS, CE_LAYERS, CE_LR, CE_MAX_LENGTH, CrossEncoder, product_text
from shoprank.ranking.lgbm import LambdaMARTRanker
from shoprank.ranking.linear import LinearRanker
from shoprank.ranking.rerank import RERANK_TOP, STACK_FEATURES, STAGE1_FEATURES, stack_columns
from shoprank.ranking.training import TrainingSet, collect_candidates, query_folds, training_set
from shoprank.search import Candidates

log = logging.getLogger(__name__)

PIPELINES: tuple[str, ...] = ("bm25", "dense_text", "rrf_hybrid", "linear_fusion", "linear_ranker", "lambdamart")
# The neural fusion rankers, one pipeline per variant (scored out of fold on LambdaMART's folds).
NEURAL_PIPELINES: tuple[str, ...] = ("fusion_early", "fusion_attention", "fusion_transformer", "fusion_late")
# The fine-tuned cross-encoder over a first stage's top CE_TOP: alone, and stacked on LambdaMART and on
# the best fusion ranker ("fusion+ce" names that variant once it is known); "lambdamart+stack" is the
# same second stage without the cross-encoder's columns, so that the table shows what the score adds.
CE_PIPELINES: tuple[str, ...] = ("cross_encoder", "lambdamart+ce", "fusion+ce", "lambdamart+stack")
CE_TOP = RERANK_TOP
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
    # with keep_models and the cross-encoder pipelines: the cross-encoder and the stack over
    # LambdaMART's top, trained on every query (--save-model writes them as a reranker)
    reranker: tuple[CrossEncoder, LambdaMARTRanker] | None = field(default=None, repr=False)
    # with keep_runs: pipeline -> query id -> product id -> score, the top DEPTH in ranked order
    runs: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict, repr=False)

    def best_baseline(self, metric: str = "ndcg@10") -> str | None:
        """The best pipeline that learns nothing (retrievers, fusions, the hand-set linear ranker), if any ran."""
        return max((p for p in self.means if p in PIPELINES and p != "lambdamart"),
                   key=lambda p: self.means[p][metric], default=None)

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
                     neural_train_queries: int | None = None,
                     cross_encoder: CrossEncoderSetup | None = None, keep_runs: bool = False) -> EvalReport:
    """Score ``pipelines`` on ``ds`` with an engine built over ``ds.products``; ``models``
    (name -> a trained ranker, e.g. saved after training on another set) are scored as they
    are, on every query, without cross-validation. ``augment`` > 0 adds, for each learned
    pipeline, a "+aug" twin trained with that many perturbed copies of each training query
    (:func:`shoprank.ranking.augment.perturb`; test queries are never augmented). ``cands``:
    the queries' candidates when already collected. ``neural_train_queries``: train each neural
    variant on at most this many (seeded) of a fold's training queries; every test query is scored.
    ``cross_encoder``: how the cross-encoder pipelines fine-tune theirs. ``keep_runs``: the
    report keeps every pipeline's ranked lists."""
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
            runs["rrf_hybrid"][qid] = _top(engine.pipeline.retriever.fuse(c.runs, "rrf"), products)
        if "linear_fusion" in runs:
            runs["linear_fusion"][qid] = _top(engine.pipeline.retriever.fuse(c.runs, "linear"), products)
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
            model = LambdaMARTRanker.fit(tr.X, tr.y, tr.group_sizes, num_rounds=num_rounds, feature_names=tr.names)
            oof[test] = model.score_matrix(ts.X[test])
        for qid, rows in ts.by_query():
            order = rows[np.argsort(-oof[rows], kind="stable")][:DEPTH]
            runs[ltr][qid] = {str(ts.pids[r]): float(oof[r]) for r in order}
    if "lambdamart" in runs:
        full = LambdaMARTRanker.fit(ts.X, ts.y, ts.group_sizes, num_rounds=num_rounds, feature_names=ts.names)
        report.feature_importance = full.feature_importance()
        report.model = full
        report.serving["lambdamart"] = serving_cost(full, [c.batch for c in cands.values()])
    neural = [p for p in runs if p.startswith("fusion_")]
    if neural:
        _neural_runs(engine, cands, ds.qrels, [(set(ts.qids[tr]), set(ts.qids[te])) for tr, te in folds],
                     {p: runs[p] for p in neural}, report, keep_models, aug_cands, neural_train_queries)
    if any(p in runs for p in CE_PIPELINES) and "lambdamart" in runs:
        _cross_encoder_runs(engine, ds, queries, ts, [(set(ts.qids[tr]), set(ts.qids[te])) for tr, te in folds],
                            runs, report, cross_encoder or CrossEncoderSetup(), num_rounds, keep_models)
    for pipe, run in runs.items():
        report.means[pipe], report.per_query[pipe] = evaluate_run(ds.qrels, run, METRICS, pipe)
        log.info("%s %s %s", ds.name, pipe, report.means[pipe])
    if keep_runs:
        report.runs = runs
    return report


@dataclass
class CrossEncoderSetup:
    """How the evaluation fine-tunes its cross-encoders (defaults: the served configuration)."""

    layers: int = CE_LAYERS
    max_length: int = CE_MAX_LENGTH
    epochs: int = CE_EPOCHS
    train_queries: int | None = None  # at most this many of a fold's training queries (seeded sample)
    lr: float = CE_LR


def _cross_encoder_runs(engine, ds: LabelledSet, queries: dict[str, str], ts: TrainingSet, folds,
                        runs: dict[str, dict[str, dict[str, float]]], report: EvalReport,
                        setup: CrossEncoderSetup, num_rounds: int, keep_models: bool = False) -> None:
    """Per fold, fine-tune a cross-encoder on the training queries' judged products (plus a few
    unjudged ones LambdaMART ranked high, as negatives); it scores its test queries' top
    ``CE_TOP`` of LambdaMART and of the best fusion ranker, so that every query's scores come
    from a model that never saw it. Then, on the same folds:

    - ``cross_encoder``: LambdaMART's top ``CE_TOP`` reordered by the cross-encoder alone;
    - ``lambdamart+ce`` and ``<best fusion>+ce``: a second LambdaMART over that first stage's top
      ``CE_TOP``, reading the features, the first stage's score and rank and the cross-encoder's
      score (stacking: the training rows' first-stage and cross-encoder scores are out-of-fold too);
    - ``lambdamart+stack``: that second stage over LambdaMART without the cross-encoder's columns.
    """
    text = {p.id: product_text(p) for p in engine.artifacts.catalog.products}
    lm = runs["lambdamart"]
    fusions = [p for p in runs if p.startswith("fusion_") and not p.endswith(("+aug", "+ce")) and runs[p]]
    stages = {"lambdamart": lm}
    if "fusion+ce" in runs:
        del runs["fusion+ce"]
        if fusions:  # the best variant on this set's own test folds: the "+ce" row says which it was
            ndcg = {p: evaluate_run(ds.qrels, runs[p], METRICS, p)[0]["ndcg@10"] for p in fusions}
            best = max(fusions, key=ndcg.__getitem__)
            stages[best] = runs[best]
            runs[f"{best}+ce"] = {}
    ce_s: dict[tuple[str, str], float] = {}
    t0 = time.perf_counter()
    for k, (train, test) in enumerate(folds):
        use = sorted(train)
        if setup.train_queries is not None and len(use) > setup.train_queries:
            use = sorted(random.Random(k).sample(use, setup.train_queries))
        groups = [ce_training_group(queries[qid], ds.qrels.get(qid, {}), list(lm.get(qid, {})), text) for qid in use]
        ce = CrossEncoder.from_minilm(max_length=setup.max_length, layers=setup.layers)
        ce.fit(groups, epochs=setup.epochs, lr=setup.lr)
        for qid in sorted(test):
            pids = list(dict.fromkeys(p for run in stages.values() for p in list(run.get(qid, {}))[:CE_TOP]))
            for pid, v in zip(pids, ce.score(queries[qid], [text[p] for p in pids])):
                ce_s[qid, pid] = float(v)
    ce_train_s = time.perf_counter() - t0
    report.serving["cross_encoder"] = _ce_serving(ce, queries, lm, text)
    if "cross_encoder" in runs:
        report.train_s["cross_encoder"] = ce_train_s
        for qid, lm_run in lm.items():
            runs["cross_encoder"][qid] = _reorder_top(lm_run, [ce_s[qid, p] for p in list(lm_run)[:CE_TOP]])
    row = {(str(q), str(p)): i for i, (q, p) in enumerate(zip(ts.qids, ts.pids))}
    for first, stage in stages.items():
        names = [n for n in (f"{first}+ce", f"{first}+stack") if n in runs]
        if not names:
            continue
        t1 = time.perf_counter()
        X, y, bounds = [], [], {}
        qids: list[str] = []
        for qid in sorted(stage):
            top = list(stage[qid].items())[:CE_TOP]
            extra = stack_columns(np.array([s for _, s in top]), np.array([ce_s[qid, p] for p, _ in top]), CE_TOP)
            rows = [row[qid, p] for p, _ in top]
            X.append(np.hstack([ts.X[rows], extra]))
            y.append(ts.y[rows])
            bounds[qid] = (len(qids), len(qids) + len(top))
            qids += [qid] * len(top)
        Xa, ya, qa = np.vstack(X).astype(np.float32), np.concatenate(y), np.array(qids)
        built_s = time.perf_counter() - t1
        for name in names:
            t2 = time.perf_counter()
            cols = len(STACK_FEATURES if name.endswith("+ce") else STAGE1_FEATURES)
            Xn = Xa[:, :len(ts.names) + cols]
            scores = np.zeros(len(ya))
            for train, test in folds:
                tr, te = np.flatnonzero(np.isin(qa, list(train))), np.flatnonzero(np.isin(qa, list(test)))
                if not len(tr) or not len(te):
                    continue
                _, first_row, counts = np.unique(qa[tr], return_index=True, return_counts=True)
                model = LambdaMARTRanker.fit(Xn[tr], ya[tr], [int(c) for _, c in sorted(zip(first_row, counts))],
                                             num_rounds=num_rounds,
                                             feature_names=[*ts.names, *STACK_FEATURES[:cols]])
                scores[te] = model.score_matrix(Xn[te])
            for qid, (lo, hi) in bounds.items():
                runs[name][qid] = _reorder_top(stage[qid], scores[lo:hi].tolist())
            report.train_s[name] = (ce_train_s if name.endswith("+ce") else 0.0) + built_s + time.perf_counter() - t2
        if keep_models and first == "lambdamart" and "lambdamart+ce" in names:
            # What --save-model writes: a cross-encoder fine-tuned on every query (sampled as a fold's
            # are) and the stack over every query's out-of-fold rows.
            use = sorted(q for q in queries if q in lm)
            if setup.train_queries is not None and len(use) > setup.train_queries:
                use = sorted(random.Random(len(folds)).sample(use, setup.train_queries))
            ce = CrossEncoder.from_minilm(max_length=setup.max_length, layers=setup.layers)
            ce.fit([ce_training_group(queries[q], ds.qrels.get(q, {}), list(lm[q]), text) for q in use],
                   epochs=setup.epochs, lr=setup.lr)
            _, first_row, counts = np.unique(qa, return_index=True, return_counts=True)
            stack = LambdaMARTRanker.fit(Xa, ya, [int(c) for _, c in sorted(zip(first_row, counts))],
                                         num_rounds=num_rounds, feature_names=[*ts.names, *STACK_FEATURES])
            report.reranker = (ce, stack)


def ce_training_group(query: str, judged: dict[str, int], ranked: list[str], text: dict[str, str],
                      negatives: int = 4) -> tuple[str, list[str], np.ndarray]:
    """One query's cross-encoder training group: its judged products with their grades, then the
    first ``negatives`` unjudged products of ``ranked`` (a first stage's order) graded 0."""
    pids = [p for p in judged if p in text] + [p for p in ranked if p not in judged][:negatives]
    return query, [text[p] for p in pids], np.array([judged.get(p, 0) for p in pids], np.float32)


def _reorder_top(first: dict[str, float], top_scores: list[float]) -> dict[str, float]:
    """A first stage's ranked run with its top ``len(top_scores)`` rescored; the rest stays below
    every rescored one, in the first stage's order."""
    ranked = list(first.items())
    return ({p: s for (p, _), s in zip(ranked, top_scores)} |
            {p: float(s) - 1e6 for p, s in ranked[len(top_scores):]})


def _ce_serving(ce, queries: dict[str, str], lm: dict[str, dict[str, float]], text: dict[str, str],
                n: int = 50) -> dict[str, float]:
    """p50 ms for onnxruntime int8 (one thread) to score one query's top ``CE_TOP``, and its size."""
    from shoprank.ranking.cross_encoder import OnnxCrossEncoder

    lists = [(queries[q], [text[p] for p in list(lm[q])[:CE_TOP]]) for q in sorted(lm)[:n] if lm[q]]
    with tempfile.TemporaryDirectory() as tmp:
        ce.export_onnx(Path(tmp), "onnx-int8")
        served = OnnxCrossEncoder(Path(tmp), "onnx-int8", ce.max_length)
        for q, texts in lists[:3]:
            served.score(q, texts)
        ms = []
        for q, texts in lists:
            t0 = time.perf_counter()
            served.score(q, texts)
            ms.append((time.perf_counter() - t0) * 1000)
        size = (Path(tmp) / "model-int8.onnx").stat().st_size
    return {"score_ms_p50": round(float(np.median(ms)), 2), "model_kb": round(size / 1024), "candidates": CE_TOP}


def _base(qid: str) -> str:
    """The query an augmented copy ("<qid>~<k>") was made from."""
    return qid.split("~", 1)[0]


def _concat(a: TrainingSet, b: TrainingSet) -> TrainingSet:
    if a.names != b.names:
        raise ValueError("feature rows with other features cannot be joined")
    return TrainingSet(np.concatenate([a.X, b.X]), np.concatenate([a.y, b.y]), np.concatenate([a.qids, b.qids]),
                       np.concatenate([a.pids, b.pids]), a.names)


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
            model = LambdaMARTRanker.fit(tr.X, tr.y, tr.group_sizes, num_rounds=num_rounds, feature_names=tr.names)
            scores = model.score_matrix(ts.X[test])
            for qid in np.unique(ts.qids[test]):
                rows = np.flatnonzero(ts.qids[test] == qid)
                order = rows[np.argsort(-scores[rows], kind="stable")][:DEPTH]
                runs[f"lambdamart ({name})"][str(qid)] = {str(ts.pids[test][r]): float(scores[r]) for r in order}
    return {name: evaluate_run(truth, run, METRICS, name)[0] for name, run in runs.items()}
