"""The ranker interface: any model that scores feature rows and can say why."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class Ranker(ABC):
    """Scores the candidates of one query. Rows follow :data:`shoprank.features.FEATURE_NAMES`."""

    name: str = "ranker"

    @abstractmethod
    def score(self, X: np.ndarray) -> np.ndarray:
        """One score per row; higher ranks first."""

    @abstractmethod
    def explain(self, X: np.ndarray, rows: Sequence[int] | None = None) -> np.ndarray:
        """Per-feature contributions of ``rows`` (default: all), judged within the whole query ``X``.

        A row's contributions plus :meth:`base_score` equal its score."""

    def base_score(self) -> float:
        """The part of every score that no feature explains (a model's expected value)."""
        return 0.0
