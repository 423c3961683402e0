"""Implicit-feedback ALS collaborative filtering."""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from shoprank.personalization.collaborative.base import Recommender
from shoprank.personalization.store.base import StoredEvent
from shoprank.types import Event


class ALSRecommender(Recommender):
    """Implicit-feedback matrix factorisation by ALS (Hu, Koren, Volinsky 2008).

    Preference ``p_ui = 1`` for every (owner, item) with events, with confidence
    ``c_ui = 1 + alpha · r_ui`` where ``r_ui`` sums the :data:`EVENT_WEIGHTS` of the
    owner's events with the item (repeated interest and deeper funnel steps both raise
    confidence); unobserved pairs have ``p = 0``, ``c = 1``. Fitting uses
    ``implicit.cpu.als.AlternatingLeastSquares`` (install ``shoprank[cf]``); CPU is picked
    explicitly so no GPU is probed, and ``num_threads=1`` with a fixed ``random_state``
    makes fits reproducible.

    Only item factors ``Y`` are kept. A shopper's factor is solved from their live history
    like a user row in ALS: ``x = (YᵀY + Yᵀ(C−I)Y + λI)⁻¹ Yᵀ C p`` over the history items
    (eq. 4 of the paper), so new users need no refit and no ``implicit`` at serving time.
    Scores are ``Y x``; :meth:`related` is the cosine of item factors.
    """

    kind = "als"

    def __init__(self, factors: int = 32, iterations: int = 15, regularization: float = 0.05,
                 alpha: float = 2.0, event_types: Collection[str] | None = None, random_state: int = 42,
                 num_threads: int = 1) -> None:
        super().__init__(event_types)
        if factors < 1 or iterations < 1 or regularization < 0 or alpha < 0 or num_threads < 0:
            raise ValueError("factors, iterations >= 1; regularization, alpha, num_threads >= 0")
        self.factors = int(factors)
        self.iterations = int(iterations)
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.random_state = int(random_state)
        self.num_threads = int(num_threads)
        self._y = np.zeros((0, self.factors), np.float32)
        self._set_factors(self._y)

    def _set_factors(self, y: np.ndarray) -> None:
        self._y = np.ascontiguousarray(y, dtype=np.float32)
        self._yty = (self._y.T @ self._y).astype(np.float64)  # cached: every user solve needs it
        norms = np.linalg.norm(self._y, axis=1)
        self._y_unit = self._y / np.where(norms > 0, norms, 1.0)[:, None]

    @property
    def item_factors(self) -> np.ndarray:
        """``n_items × factors`` float32 item factors."""
        return self._y

    def confidence(self, weights: np.ndarray) -> np.ndarray:
        """Hu et al.'s ``c = 1 + alpha · r`` for interaction strengths ``r``."""
        return (1.0 + self.alpha * np.asarray(weights, np.float32)).astype(np.float32)

    def fit(self, events: Iterable[Event | StoredEvent]) -> ALSRecommender:
        try:
            from implicit.cpu.als import AlternatingLeastSquares
        except ImportError:
            raise ImportError("ALSRecommender needs implicit: pip install 'shoprank[cf]'") from None
        from threadpoolctl import threadpool_limits  # a dependency of implicit

        r = self._interactions(events, agg="sum")
        c = r.copy()
        c.data = self.confidence(r.data)
        # implicit warns when BLAS runs its own thread pool beside ALS's threads (it slows the
        # solver down); pin BLAS to one thread while we construct and fit instead.
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                            alpha=1.0,  # confidence is already 1 + alpha·r
                                            iterations=self.iterations, num_threads=self.num_threads,
                                            random_state=self.random_state, dtype=np.float32)
            model.fit(c, show_progress=False)
        self._set_factors(np.asarray(model.item_factors))
        return self

    def user_factor(self, history: Sequence[tuple[str, float]]) -> np.ndarray:
        """Solve the shopper's factor from ``history`` (zeros when no history item is known)."""
        return self._solve_user(*self._history(history))

    def _solve_user(self, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
        if idx.size == 0:
            return np.zeros(self.factors, np.float32)
        yh = self._y[idx].astype(np.float64)
        conf = self.confidence(w).astype(np.float64)
        a = self._yty + (yh.T * (conf - 1.0)) @ yh + self.regularization * np.eye(self.factors)
        b = yh.T @ conf  # p = 1 for history items
        try:
            x = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:  # singular only when λ = 0 and Y is rank-deficient
            x = np.linalg.lstsq(a, b, rcond=None)[0]
        return x.astype(np.float32)

    def recommend(self, history: Sequence[tuple[str, float]], k: int,
                  exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        idx, w = self._history(history)
        if k <= 0 or idx.size == 0:
            return []
        scores = self._y @ self._solve_user(idx, w)
        return self._top(scores, k, self._exclude_idx(exclude, idx))

    def score(self, history: Sequence[tuple[str, float]], product_ids: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(product_ids), np.float32)
        if not len(product_ids):
            return out
        cand = self._candidate_idx(product_ids)
        known = cand >= 0
        if known.any():
            out[known] = self._y[cand[known]] @ self.user_factor(history)
        return out

    def related(self, product_id: str, k: int) -> list[tuple[str, float]]:
        i = self._index.get(product_id)
        if i is None or k <= 0:
            return []
        sims = self._y_unit @ self._y_unit[i]
        return self._top(sims, k, np.asarray([i], np.int64))

    def _params(self) -> dict[str, Any]:
        return {"factors": self.factors, "iterations": self.iterations, "regularization": self.regularization,
                "alpha": self.alpha, "random_state": self.random_state, "num_threads": self.num_threads}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_factors": self._y}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self._set_factors(arrays["item_factors"])
