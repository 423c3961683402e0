"""Ranking metrics through ranx (Bassani, ECIR 2022): no hand-written metric code here."""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

METRICS: tuple[str, ...] = ("ndcg@10", "map@100", "mrr@100", "recall@100")

RunDict = Mapping[str, Mapping[str, float]]   # query id -> product id -> score
QrelsDict = Mapping[str, Mapping[str, int]]   # query id -> product id -> gain


def _ranx(qrels: QrelsDict, run: RunDict, name: str):
    from ranx import Qrels, Run

    # ranx wants every query in both; a query with no results scores 0.
    q = Qrels({qid: dict(d) for qid, d in qrels.items() if d})
    r = Run({qid: (dict(run[qid]) if run.get(qid) else {"__none__": 0.0}) for qid in q.keys()}, name=name)
    return q, r


def evaluate_run(qrels: QrelsDict, run: RunDict, metrics: Sequence[str] = METRICS,
                 name: str = "run") -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean scores and per-query scores (``{metric: {qid: value}}``) of ``run`` against ``qrels``.

    Graded gains are used as given (ranx's nDCG uses the gain value itself, Järvelin & Kekäläinen 2002).
    """
    from ranx import evaluate

    q, r = _ranx(qrels, run, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety chatter
        means = evaluate(q, r, list(metrics), make_comparable=True)
    per_query = {m: {qid: float(v) for qid, v in vals.items()} for m, vals in r.scores.items()}
    if not isinstance(means, dict):  # ranx returns a bare number for a single metric
        means = {metrics[0]: means}
    return {m: float(means[m]) for m in metrics}, per_query
