"""Ranking v0: a configurable weighted sum of features (default weights declared with the features)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.features.registry import BY_NAME, FEATURE_NAMES, FEATURES
from shoprank.ranking.base import CandidateBatch, Ranker

DEFAULT_WEIGHTS: dict[str, float] = {f.name: f.weight for f in FEATURES}
# Scores whose scale changes from query to query are min-max scaled within the query first.
PER_QUERY_SCALED: frozenset[str] = frozenset(f.name for f in FEATURES if f.scaled)


def min_max_within_query(cols: np.ndarray) -> np.ndarray:
    """One query's candidates' columns scaled to 0..1; a column constant within the query cannot
    order candidates and becomes 0. ``cols`` must have at least one row."""
    lo, hi = cols.min(axis=0), cols.max(axis=0)
    return np.where(hi > lo, (cols - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0)


class LinearRanker(Ranker):
    name = "linear"

    def __init__(self, weights: Mapping[str, float] | None = None, feature_names: Sequence[str] = FEATURE_NAMES):
        """Weights by feature name over ``feature_names`` (a declared feature without one gets its
        declared default weight, any other 0)."""
        w = dict(DEFAULT_WEIGHTS)
        if weights:
            unknown = set(weights) - set(feature_names)
            if unknown:
                raise ValueError(f"weights for unknown features: {sorted(unknown)}")
            w.update(weights)
        self.feature_names = list(feature_names)
        self.weights = {n: float(w.get(n, 0.0)) for n in self.feature_names}
        self.w = np.array([self.weights[n] for n in self.feature_names], np.float32)
        self._scaled = np.array([BY_NAME[n].scaled if n in BY_NAME else False for n in self.feature_names])

    def contributions(self, M: np.ndarray, rows: Sequence[int] | None = None) -> np.ndarray:
        """Each feature's part of the score of ``rows`` of one query's input rows ``M`` (columns
        :attr:`feature_names`); scaling needs every candidate of the query."""
        X = np.asarray(M, np.float32).copy()
        if len(X):
            X[:, self._scaled] = min_max_within_query(X[:, self._scaled])
        return (X if rows is None else X[list(rows)]) * self.w

    def explain(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> np.ndarray:
        return self._by_batch_columns(batch, self.contributions(batch.columns(self.feature_names), rows))

    def score(self, batch: CandidateBatch) -> np.ndarray:
        return self.contributions(batch.columns(self.feature_names)).sum(axis=1)

    def _save(self, path: Path) -> dict[str, Any]:
        return {"weights": self.weights}

    @classmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> LinearRanker:
        return cls(meta["weights"], meta["features"])
