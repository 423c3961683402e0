"""The :class:`Recommender` contract shared by the collaborative backends, and its save format."""
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

# Kind names that earlier versions wrote into model.json.
_LEGACY_KINDS = {"item_item": "itemitem"}
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

    kind: ClassVar[str] = ""  # its name in shoprank.personalization.backends.COLLABORATIVE_MODELS

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
    def fit(self, events: Iterable[Event | StoredEvent]) -> Recommender:
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
        np.savez(tmp_npz, allow_pickle=False, **arrays)
        tmp_npz.replace(d / ARRAYS_FILE)
        tmp_json = d / (MODEL_FILE + ".tmp")
        tmp_json.write_text(json.dumps(meta, separators=(",", ":")), encoding="utf-8")
        tmp_json.replace(d / MODEL_FILE)
        return d

    @classmethod
    def load(cls, directory: str | Path) -> Recommender:
        """Read a model written by :meth:`save`. ``Recommender.load`` returns whichever kind it is."""
        d = Path(directory)
        meta = json.loads((d / MODEL_FILE).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{d / MODEL_FILE}: not a {FORMAT} v{FORMAT_VERSION} model")
        from shoprank.personalization.backends import COLLABORATIVE_MODELS

        kind = _LEGACY_KINDS.get(meta.get("kind", ""), meta.get("kind", ""))
        if kind not in COLLABORATIVE_MODELS:
            raise ValueError(f"{d / MODEL_FILE}: unknown recommender kind {meta.get('kind')!r}")
        klass = COLLABORATIVE_MODELS.get_class(kind)
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


