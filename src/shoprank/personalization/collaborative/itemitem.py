"""Item-to-item collaborative filtering."""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from shoprank.personalization.collaborative.base import Recommender
from shoprank.personalization.store.base import StoredEvent
from shoprank.types import Event


class ItemItemCF(Recommender):
    """Item-to-item cosine similarity over owners (Sarwar et al. 2001; Linden et al. 2003).

    Each owner (user, or session for anonymous shoppers) is a vector over items holding,
    per item, the largest :data:`EVENT_WEIGHTS` weight of their events with it (a purchase
    says more than a click; repeated clicks do not pile up). Similarity is the cosine
    ``co(i, j) / (sqrt(n_i n_j) + shrink)`` with ``co(i, j) = Σ_u w_ui w_uj`` and
    ``n_i = Σ_u w_ui²``; ``shrink`` > 0 damps pairs seen together only once or twice.
    Only the ``max_neighbors`` most similar items are kept per item, in a sparse
    items × items matrix computed ``block_size`` rows at a time: memory stays
    ``O(items × max_neighbors)``, never items².

    ``event_types`` restricts training to some event types, e.g. ``{"cart", "purchase"}``
    for "bought together". Scores for a history are the weighted mean similarity of an
    item to the history items, so they lie in [0, 1] whatever the history's length.
    """

    kind = "itemitem"

    def __init__(self, max_neighbors: int = 100, event_types: Collection[str] | None = None,
                 shrink: float = 0.0, block_size: int = 2048) -> None:
        super().__init__(event_types)
        if max_neighbors < 1 or block_size < 1 or shrink < 0:
            raise ValueError("max_neighbors and block_size must be >= 1, shrink >= 0")
        self.max_neighbors = int(max_neighbors)
        self.shrink = float(shrink)
        self.block_size = int(block_size)
        self._sim = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, events: Iterable[Event | StoredEvent]) -> ItemItemCF:
        r = self._interactions(events, agg="max")  # owners × items
        rt = r.T.tocsr()  # items × owners
        norms = np.sqrt(np.asarray(rt.multiply(rt).sum(axis=1)).ravel()).astype(np.float32)
        n = r.shape[1]
        rows_l, cols_l, vals_l = [], [], []
        for start in range(0, n, self.block_size):
            stop = min(start + self.block_size, n)
            co = (rt[start:stop] @ r).tocsr()  # block × items co-occurrence, sparse
            co.sum_duplicates()
            rows = np.repeat(np.arange(start, stop), np.diff(co.indptr))
            cols = co.indices.astype(np.int64)
            sim = co.data / (norms[rows] * norms[cols] + self.shrink)
            keep = (cols != rows) & (sim > 0)
            rows, cols, sim = rows[keep], cols[keep], sim[keep].astype(np.float32)
            # Top max_neighbors per row, vectorised: sort by (row, -sim, col), rank within row.
            order = np.lexsort((cols, -sim, rows))
            rows, cols, sim = rows[order], cols[order], sim[order]
            first = np.searchsorted(rows, rows, side="left")
            keep = (np.arange(len(rows)) - first) < self.max_neighbors
            rows_l.append(rows[keep])
            cols_l.append(cols[keep])
            vals_l.append(sim[keep])
        rows_a = np.concatenate(rows_l) if rows_l else np.zeros(0, np.int64)
        self._sim = sp.csr_matrix((np.concatenate(vals_l) if vals_l else np.zeros(0, np.float32),
                                   (rows_a, np.concatenate(cols_l) if cols_l else np.zeros(0, np.int64))),
                                  shape=(n, n), dtype=np.float32)
        self._sim.sort_indices()
        return self

    @property
    def similarity(self) -> sp.csr_matrix:
        """The pruned items × items similarity matrix (row ``i``: neighbours of item ``i``)."""
        return self._sim

    def recommend(self, history: Sequence[tuple[str, float]], k: int,
                  exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        idx, w = self._history(history)
        if k <= 0 or idx.size == 0:
            return []
        sub = self._sim[idx]
        if sub.nnz == 0:
            return []
        # Sparse accumulation over the history's neighbours only: O(|history| × max_neighbors).
        contrib = sub.data * np.repeat(w, np.diff(sub.indptr))
        cols, inv = np.unique(sub.indices, return_inverse=True)
        scores = (np.bincount(inv, weights=contrib) / w.sum()).astype(np.float32)
        return self._top(scores, k, self._exclude_idx(exclude, idx), cols=cols.astype(np.int64))

    def score(self, history: Sequence[tuple[str, float]], product_ids: Sequence[str]) -> np.ndarray:
        out = np.zeros(len(product_ids), np.float32)
        idx, w = self._history(history)
        if idx.size == 0 or not len(product_ids):
            return out
        cand = self._candidate_idx(product_ids)
        known = cand >= 0
        if not known.any():
            return out
        sub = self._sim[idx][:, cand[known]]  # |history| × |known candidates|, sparse
        out[known] = (sub.T @ w) / w.sum()
        return out

    def related(self, product_id: str, k: int) -> list[tuple[str, float]]:
        i = self._index.get(product_id)
        if i is None or k <= 0:
            return []
        lo, hi = self._sim.indptr[i], self._sim.indptr[i + 1]
        return self._top(self._sim.data[lo:hi], k, np.zeros(0, np.int64),
                         cols=self._sim.indices[lo:hi].astype(np.int64))

    def _params(self) -> dict[str, Any]:
        return {"max_neighbors": self.max_neighbors, "shrink": self.shrink, "block_size": self.block_size}

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"sim_data": self._sim.data, "sim_indices": self._sim.indices, "sim_indptr": self._sim.indptr}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        n = self.n_items
        self._sim = sp.csr_matrix((arrays["sim_data"].astype(np.float32), arrays["sim_indices"],
                                   arrays["sim_indptr"]), shape=(n, n))


