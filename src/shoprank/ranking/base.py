"""The ranker interface: any model that scores feature rows and can say why."""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Ranker(ABC):
    """Scores the candidates of one query. Rows follow :data:`shoprank.features.FEATURE_NAMES`."""

    name: str = "ranker"

    @abstractmethod
    def score(self, X: np.ndarray) -> np.ndarray:
        """One score per row; higher ranks first."""

    @abstractmethod
    def explain(self, X: np.ndarray) -> np.ndarray:
        """Per-feature contributions, same shape as ``X``; each row sums to that row's score
        (up to a constant shared by the whole query)."""
