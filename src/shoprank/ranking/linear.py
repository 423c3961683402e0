"""Ranking v0: a configurable weighted sum of features."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking.base import Ranker

DEFAULT_WEIGHTS: dict[str, float] = {
    "bm25_title": 1.0, "bm25_description": 0.3, "bm25_category": 0.8, "bm25_attributes": 0.4, "bm25_reviews": 0.1,
    "cos_text": 2.0, "cos_label": 0.5, "cos_review": 0.2, "cos_image": 3.0, "cos_photo_text": 0.5,
    "cos_color": 1.0,
    "rrf": 1.0,
    "price_log": 0.0, "rating": 0.05, "review_count_log": 0.05, "sales_log": 0.05, "has_image": 0.1,
    "type_match": 1.5, "color_match": 0.8, "size_match": 0.3, "gender_match": 0.8, "price_fit": 1.0,
    "user_category": 1.0, "user_color": 0.8, "user_gender": 0.8, "user_price": 0.5, "user_text": 0.5,
    "user_image": 0.3, "cf_score": 0.5,
}
# Scores whose scale changes from query to query are min-max scaled within the query first.
PER_QUERY_SCALED: frozenset[str] = frozenset(
    n for n in FEATURE_NAMES if n.startswith(("bm25_", "cos_")) or n in ("rrf", "user_text", "user_image", "cf_score"))


class LinearRanker(Ranker):
    name = "linear"

    def __init__(self, weights: Mapping[str, float] | None = None, feature_names: Sequence[str] = FEATURE_NAMES):
        w = dict(DEFAULT_WEIGHTS)
        if weights:
            unknown = set(weights) - set(feature_names)
            if unknown:
                raise ValueError(f"weights for unknown features: {sorted(unknown)}")
            w.update(weights)
        self.feature_names = list(feature_names)
        self.w = np.array([w.get(n, 0.0) for n in self.feature_names], np.float32)
        self._scaled = np.array([n in PER_QUERY_SCALED for n in self.feature_names])

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, np.float32).copy()
        if len(X) == 0:
            return X
        sub = X[:, self._scaled]
        lo, hi = sub.min(axis=0), sub.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        # A column that is constant within the query cannot order candidates: it contributes 0.
        X[:, self._scaled] = np.where(hi > lo, (sub - lo) / span, 0.0)
        return X

    def explain(self, X: np.ndarray, rows: Sequence[int] | None = None) -> np.ndarray:
        scaled = self._prepare(X)  # scaling needs every candidate of the query
        return (scaled if rows is None else scaled[list(rows)]) * self.w

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.explain(X).sum(axis=1)
