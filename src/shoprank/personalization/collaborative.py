"""Collaborative filtering from shopper events: "for you", "related items", a ranking feature.

Two backends share one :class:`Recommender` contract:

- :class:`ItemItemCF`: item-to-item cosine similarity over who-interacted-with-what
  (Sarwar, Karypis, Konstan, Riedl, *Item-based collaborative filtering recommendation
  algorithms*, WWW 2001; Linden, Smith, York, *Amazon.com recommendations: item-to-item
  collaborative filtering*, IEEE Internet Computing 2003).
- :class:`ALSRecommender`: implicit-feedback matrix factorisation by alternating least
  squares (Hu, Koren, Volinsky, *Collaborative Filtering for Implicit Feedback Datasets*,
  ICDM 2008), fitted with the ``implicit`` package.

Both are trained on owners (``Event.owner``: the user when known, else the session) and
both answer for a shopper *from their live history* (``(product_id, weight)`` pairs), so a
brand-new user or session that never appeared at training time still gets recommendations
as soon as they touched one known item. Models save to a folder as ``model.json`` plus
``arrays.npz`` (no pickle) and load back with :meth:`Recommender.load`.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from shoprank.personalization.profile import EVENT_WEIGHTS
from shoprank.personalization.store.base import StoredEvent
from shoprank.types import Event

__all__ = ["ALSRecommender", "ItemItemCF", "Recommender", "history_from_events"]

FORMAT = "shoprank.cf"
FORMAT_VERSION = 1
MODEL_FILE = "model.json"
ARRAYS_FILE = "arrays.npz"


def _as_event(e: Event | StoredEvent) -> Event:
    return e.event if isinstance(e, StoredEvent) else e


def history_from_events(events: Iterable[Event | StoredEvent],
                        weights: dict[str, float] = EVENT_WEIGHTS) -> list[tuple[str, float]]:
    """One shopper's events as the ``(product_id, weight)`` history the recommenders take.

    Each item gets the largest weight of its events (as in training), in first-seen order.
    """
    best: dict[str, float] = {}
    for raw in events:
        e = _as_event(raw)
        w = weights[e.type]
        if w > best.get(e.product_id, 0.0):
            best[e.product_id] = w
    return list(best.items())


class Recommender(ABC):
    """Collaborative-filtering model trained from events and queried with a live history.

    ``history`` everywhere is a sequence of ``(product_id, weight)``: the shopper's recent
    items with how much each says about their taste (e.g. :data:`EVENT_WEIGHTS` of the
    event type, decayed by age). Duplicate ids add up; unknown ids and non-positive
    weights are ignored. Subclasses set ``kind`` and implement the abstract methods.
    """

    kind: ClassVar[str] = ""
    _registry: ClassVar[dict[str, type["Recommender"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.kind:
            Recommender._registry[cls.kind] = cls

    def __init__(self, event_types: Collection[str] | None = None) -> None:
        if event_types is not None:
            unknown = set(event_types) - set(EVENT_WEIGHTS)
            if unknown or not event_types:
                raise ValueError(f"event_types must be a non-empty subset of {sorted(EVENT_WEIGHTS)}; "
                                 f"got {sorted(event_types)}")
        self.event_types: frozenset[str] | None = frozenset(event_types) if event_types is not None else None
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._popularity = np.zeros(0, np.float32)  # distinct owners per item
        self._n_owners = 0

    # -- the contract -------------------------------------------------------------------------
    @abstractmethod
    def fit(self, events: Iterable[Event | StoredEvent]) -> "Recommender":
        """Learn from ``events`` (``Event`` or ``StoredEvent``); replaces any earlier fit."""

    @abstractmethod
    def recommend(self, history: Sequence[tuple[str, float]], k: int,
                  exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        """Top ``k`` ``(product_id, score)`` for a shopper with ``history``, best first.

        Items in the history and in ``exclude`` are never returned; only items with a
        positive score are, so the list may be shorter than ``k`` (empty when no history
        item is known)."""

    @abstractmethod
    def score(self, history: Sequence[tuple[str, float]], product_ids: Sequence[str]) -> np.ndarray:
        """One float32 score per id in ``product_ids`` (0 for unknown ids): a ranking feature."""

    @abstractmethod
    def related(self, product_id: str, k: int) -> list[tuple[str, float]]:
        """Up to ``k`` ``(product_id, similarity)`` most similar to ``product_id`` (not itself)."""

    @abstractmethod
    def _params(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable, for :meth:`save`."""

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """Fitted state as numeric arrays, for :meth:`save`."""

    @abstractmethod
    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the fitted state written by :meth:`_arrays`."""

    # -- shared ---------------------------------------------------------------------------------
    @property
    def n_items(self) -> int:
        """Items seen at training time."""
        return len(self._items)

    @property
    def n_owners(self) -> int:
        """Users/sessions seen at training time."""
        return self._n_owners

    def known(self, product_id: str) -> bool:
        """Whether ``product_id`` was seen at training time (the model can say something about it)."""
        return product_id in self._index

    def popular(self, k: int, exclude: Collection[str] = ()) -> list[tuple[str, float]]:
        """The ``k`` items with the most distinct owners: the fallback for an empty history."""
        if k <= 0 or not self._items:
            return []
        return self._top(self._popularity.astype(np.float32), k, self._exclude_idx(exclude))

    def save(self, directory: str | Path) -> Path:
        """Write ``model.json`` (kind, parameters, item ids) and ``arrays.npz`` under ``directory``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT, "version": FORMAT_VERSION, "kind": self.kind, "params": self._params(),
            "event_types": sorted(self.event_types) if self.event_types is not None else None,
            "n_owners": self._n_owners, "items": self._items,
        }
        arrays = {"popularity": self._popularity, **self._arrays()}
        # Write beside, then rename: a reader never sees half a model.
        tmp_npz = d / (ARRAYS_FILE + ".tmp.npz")
        np.savez(tmp_npz, **arrays)
        tmp_npz.replace(d / ARRAYS_FILE)
        tmp_json = d / (MODEL_FILE + ".tmp")
        tmp_json.write_text(json.dumps(meta, separators=(",", ":")), encoding="utf-8")
        tmp_json.replace(d / MODEL_FILE)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> "Recommender":
        """Read a model written by :meth:`save`. ``Recommender.load`` returns whichever kind it is."""
        d = Path(directory)
        meta = json.loads((d / MODEL_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{d / MODEL_FILE}: not a {FORMAT} v{FORMAT_VERSION} model")
        klass = Recommender._registry.get(meta.get("kind", ""))
        if klass is None:
            raise ValueError(f"{d / MODEL_FILE}: unknown recommender kind {meta.get('kind')!r}")
        if cls is not Recommender and not issubclass(klass, cls):
            raise ValueError(f"{d / MODEL_FILE} holds a {klass.__name__}, not a {cls.__name__}")
        obj = klass(event_types=meta["event_types"], **meta["params"])
        obj._set_items([str(x) for x in meta["items"]])
        obj._n_owners = int(meta["n_owners"])
        with np.load(d / ARRAYS_FILE, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        obj._popularity = arrays.pop("popularity").astype(np.float32)
        obj._set_arrays(arrays)
        return obj

    # -- helpers for subclasses ---------------------------------------------------------------
    def _set_items(self, items: list[str]) -> None:
        self._items = items
        self._index = {p: i for i, p in enumerate(items)}

    def _interactions(self, events: Iterable[Event | StoredEvent], agg: str) -> sp.csr_matrix:
        """Owners × items CSR of event weights per (owner, item): their ``max`` or ``sum``.

        Also sets the item vocabulary (first-seen order, so fits are reproducible), the
        owner count and the popularity of each item."""
        owners: dict[str, int] = {}
        items: dict[str, int] = {}
        cells: dict[tuple[int, int], float] = {}
        for raw in events:
            e = _as_event(raw)
            if self.event_types is not None and e.type not in self.event_types:
                continue
            o = owners.setdefault(e.owner, len(owners))
            i = items.setdefault(e.product_id, len(items))
            w = EVENT_WEIGHTS[e.type]
            key = (o, i)
            old = cells.get(key)
            if old is None:
                cells[key] = w
            else:
                cells[key] = max(old, w) if agg == "max" else old + w
        if not cells:
            raise ValueError("no events to learn from" + (f" of types {sorted(self.event_types)}"
                                                          if self.event_types is not None else ""))
        keys = np.fromiter((x for oi in cells for x in oi), np.int64, count=2 * len(cells)).reshape(-1, 2)
        vals = np.fromiter(cells.values(), np.float32, count=len(cells))
        m = sp.csr_matrix((vals, (keys[:, 0], keys[:, 1])), shape=(len(owners), len(items)), dtype=np.float32)
        m.sort_indices()
        self._set_items(list(items))
        self._n_owners = len(owners)
        self._popularity = np.bincount(keys[:, 1], minlength=len(items)).astype(np.float32)
        return m

    def _history(self, history: Sequence[tuple[str, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Known history items as (sorted unique indices, summed weights > 0)."""
        idx: list[int] = []
        wts: list[float] = []
        for pid, w in history:
            i = self._index.get(pid)
            if i is not None and w > 0:
                idx.append(i)
                wts.append(float(w))
        if not idx:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        uniq, inv = np.unique(np.asarray(idx, np.int64), return_inverse=True)
        return uniq, np.bincount(inv, weights=wts).astype(np.float32)

    def _exclude_idx(self, exclude: Collection[str], extra: np.ndarray | None = None) -> np.ndarray:
        ex = [i for i in (self._index.get(p) for p in exclude) if i is not None]
        out = np.asarray(ex, np.int64)
        return out if extra is None else np.concatenate([out, extra.astype(np.int64)])

    def _candidate_idx(self, product_ids: Sequence[str]) -> np.ndarray:
        get = self._index.get
        return np.fromiter((get(p, -1) for p in product_ids), np.int64, count=len(product_ids))

    def _top(self, scores: np.ndarray, k: int, exclude: np.ndarray, cols: np.ndarray | None = None,
             positive: bool = True) -> list[tuple[str, float]]:
        """Best ``k`` of ``scores`` (over item ``cols``, or all items), ties by item index."""
        cols = np.arange(len(scores)) if cols is None else cols
        keep = np.ones(len(cols), bool)
        if exclude.size:
            keep &= ~np.isin(cols, exclude)
        if positive:
            keep &= scores > 0
        s, c = scores[keep], cols[keep]
        if k < len(s):
            part = np.argpartition(-s, k - 1)[:k]
            # Widen to every entry tied with the k-th so the tie-break below is exact.
            part = np.flatnonzero(s >= s[part].min())
            s, c = s[part], c[part]
        order = np.lexsort((c, -s))[:k]
        return [(self._items[int(c[j])], float(s[j])) for j in order]


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

    kind = "item_item"

    def __init__(self, max_neighbors: int = 100, event_types: Collection[str] | None = None,
                 shrink: float = 0.0, block_size: int = 2048) -> None:
        super().__init__(event_types)
        if max_neighbors < 1 or block_size < 1 or shrink < 0:
            raise ValueError("max_neighbors and block_size must be >= 1, shrink >= 0")
        self.max_neighbors = int(max_neighbors)
        self.shrink = float(shrink)
        self.block_size = int(block_size)
        self._sim = sp.csr_matrix((0, 0), dtype=np.float32)

    def fit(self, events: Iterable[Event | StoredEvent]) -> "ItemItemCF":
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

    def fit(self, events: Iterable[Event | StoredEvent]) -> "ALSRecommender":
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
