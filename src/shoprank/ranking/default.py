"""The default ranker: learned relevance plus the hand-set terms the labelled sets cannot teach.

A LambdaMART model trained on the labelled product-search sets (CrowdFlower and Home Depot:
``shoprank train-default``) scores relevance from the features those sets vary: BM25 per field,
term coverage, dense text similarity, fusion, the query-matching features. The sets have no
shoppers, photos, ratings or sales, so those features are constant there and the trees never
use them; for them the linear ranker's weights stay (:data:`fallback`). The model's score is
scaled to spread a query's candidates as much as the linear ranker's relevance terms do, so a
shopper's profile moves results as strongly as it does under the linear ranker. The fused score
is read min-max scaled within the query: its scale depends on the fusion method and on which
retrievers ran (a photo query runs others than a text query), its order within the query does not.
The query-understanding features (type, colour, size, gender, price asked for) keep their hand-set
weights too and the model never reads them: they match the query against this catalog's own
vocabulary, so what they are worth belongs to the catalog (on Luma a backpack query must rank bags
first, which the labelled sets, whose products mostly fall outside that vocabulary, barely teach).

One model per text encoder ships inside the package (dense similarities differ in scale
between encoders); without one for the configured encoder, or without LightGBM, the engine
serves the linear ranker and says why.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.features.registry import FEATURE_NAMES, FEATURES
from shoprank.ranking.base import CandidateBatch, Ranker, load_ranker
from shoprank.ranking.lgbm import LambdaMARTRanker
from shoprank.ranking.linear import DEFAULT_WEIGHTS, LinearRanker, min_max_within_query

log = logging.getLogger(__name__)

PACKAGED = Path(__file__).parent / "models"
# Features the model reads min-max scaled within the query (measured on the cross-set check, e5:
# CrowdFlower -> Home Depot nDCG@10 .4327 vs .4315 raw, Home Depot -> CrowdFlower .8219 vs .8232;
# scaling every per-query-scaled feature lost on both, .4284 and .8192).
QUERY_SCALED: tuple[str, ...] = ("rrf",)
HAND_SET: tuple[str, ...] = tuple(f.name for f in FEATURES if f.group == "query")


def _at(names: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """Where each of ``wanted`` that ``names`` holds is in ``names``."""
    return [list(names).index(n) for n in wanted if n in names]


def _model_rows(X: np.ndarray, group_sizes: Sequence[int], blank: Sequence[int], scaled: Sequence[int]) -> np.ndarray:
    """What the trees read: the hand-set columns (``blank``) 0, the query-scaled ones (``scaled``)
    min-max scaled per query."""
    X = np.array(X, np.float32)
    X[:, blank] = 0.0
    start = 0
    for size in group_sizes:
        if size:
            X[start:start + size, scaled] = min_max_within_query(X[start:start + size, scaled])
        start += size
    return X


class DefaultRanker(Ranker):
    """Bound by name to the features it was trained on (``feature_names``), with the hand-set and
    query-scaled names it was trained with (saved beside it: a later registry does not change them)."""

    name = "default"

    def __init__(self, relevance: LambdaMARTRanker, scale: float, fallback: Sequence[str],
                 weights: Mapping[str, float] | None = None, trained_on: Sequence[str] = (),
                 text_encoder: str = "", hand_set: Sequence[str] = HAND_SET,
                 query_scaled: Sequence[str] = QUERY_SCALED):
        self.relevance = relevance
        self.feature_names = list(relevance.feature_names)
        self.scale = float(scale)
        self.fallback = [n for n in self.feature_names if n in set(fallback)]
        self.trained_on = list(trained_on)
        self.text_encoder = text_encoder
        self.hand_set = [n for n in hand_set if n in self.feature_names]
        self.query_scaled = [n for n in query_scaled if n in self.feature_names]
        self._hs, self._qs = _at(self.feature_names, self.hand_set), _at(self.feature_names, self.query_scaled)
        # Overrides (SHOPRANK_RANKER_WEIGHTS) reach the fallback terms; the learned ones are the model's.
        w = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.linear = LinearRanker({n: (w.get(n, 0.0) if n in self.fallback else 0.0) for n in self.feature_names},
                                   self.feature_names)

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, group_sizes: Sequence[int], num_rounds: int = 300,
            trained_on: Sequence[str] = (), text_encoder: str = "",
            feature_names: Sequence[str] = FEATURE_NAMES) -> DefaultRanker:
        """Fit on rows grouped by query; ``feature_names`` name the columns of ``X``."""
        X = np.asarray(X, np.float32)
        names = list(feature_names)
        fallback = [n for j, n in enumerate(names) if n in HAND_SET or np.ptp(X[:, j]) == 0]
        model_input = _model_rows(X, group_sizes, _at(names, HAND_SET), _at(names, QUERY_SCALED))
        relevance = LambdaMARTRanker.fit(model_input, y, group_sizes, num_rounds=num_rounds, feature_names=names)
        learned = LinearRanker({n: (0.0 if n in fallback else DEFAULT_WEIGHTS.get(n, 0.0)) for n in names}, names)
        scale = _spread_ratio(relevance.score_matrix(model_input), X, group_sizes, learned)
        return cls(relevance, scale, fallback, trained_on=trained_on, text_encoder=text_encoder)

    def score(self, batch: CandidateBatch) -> np.ndarray:
        X = batch.columns(self.feature_names)
        return self.scale * self.relevance.score_matrix(_model_rows(X, [len(X)], self._hs, self._qs)) \
            + self.linear.contributions(X).sum(axis=1)

    def explain(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> np.ndarray:
        X = batch.columns(self.feature_names)
        model_rows = _model_rows(X, [len(X)], self._hs, self._qs)
        learned = self.relevance.contributions(model_rows if rows is None else model_rows[list(rows)])
        return self._by_batch_columns(batch, self.scale * learned + self.linear.contributions(X, rows))

    def base_score(self) -> float:
        return self.scale * self.relevance.base_score()

    def _save(self, path: Path) -> dict[str, Any]:
        return {**self.relevance._save(path), "scale": self.scale, "fallback": self.fallback,
                "fallback_weights": {n: self.linear.weights[n] for n in self.fallback},
                "trained_on": self.trained_on, "text_encoder": self.text_encoder,
                "query_scaled": self.query_scaled, "hand_set": self.hand_set}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> DefaultRanker:
        return cls(LambdaMARTRanker._load(path, meta), meta["scale"], meta["fallback"],
                   meta.get("fallback_weights"), meta.get("trained_on", ()), meta.get("text_encoder", ""),
                   meta.get("hand_set", HAND_SET), meta.get("query_scaled", QUERY_SCALED))


def _spread_ratio(model_scores: np.ndarray, X: np.ndarray, group_sizes: Sequence[int],
                  learned: LinearRanker) -> float:
    """How much to scale the model's scores to spread a query's candidates as much as the linear
    ranker's learned terms do (medians over the queries)."""
    spread_model, spread_linear = [], []
    start = 0
    for size in group_sizes:
        if size > 1:
            rows = slice(start, start + size)
            spread_model.append(np.std(model_scores[rows]))
            spread_linear.append(np.std(learned.contributions(X[rows]).sum(axis=1)))
        start += size
    m = float(np.median(spread_model)) if spread_model else 0.0
    return float(np.median(spread_linear)) / m if m > 0 else 1.0


def packaged_path(text_encoder: str) -> Path:
    return PACKAGED / f"default-{text_encoder}"


def default_ranker(text_encoder: str, weights: Mapping[str, float] | None = None) -> Ranker:
    """The packaged default model for ``text_encoder``; the linear ranker (with the reason
    logged) when none ships for it or it cannot be loaded."""
    path = packaged_path(text_encoder)
    if not (path / "ranker.json").is_file():
        log.info("no default ranker model for text encoder %r: serving the linear ranker", text_encoder)
        return LinearRanker(weights)
    try:
        model = load_ranker(path)
    except Exception as e:  # LightGBM raises its own errors: a broken model must not stop serving
        log.warning("default ranker model %s not usable (%s): serving the linear ranker", path, e)
        return LinearRanker(weights)
    if not isinstance(model, DefaultRanker):
        raise TypeError(f"{path} holds a {model.name} ranker")
    if weights:
        model = DefaultRanker(model.relevance, model.scale, model.fallback, {**model.linear.weights, **weights},
                              model.trained_on, model.text_encoder, model.hand_set, model.query_scaled)
    return model
