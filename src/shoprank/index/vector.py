"""Dense vector search: the :class:`VectorIndex` interface and its faiss backend.

Backends register in :data:`VECTOR_INDEXES` by name; an index folder records which one
wrote it.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.arrays import GrowingArray, appended
from shoprank.registry import Registry


class VectorIndex(ABC):
    """Inner-product search over L2-normalised rows (so scores are cosines).

    ``owners[i]`` is the catalog position that row ``i`` belongs to: a product may own
    several rows (one per photo), and results keep each product's best row.
    """

    backend: str

    def __init__(self, owners: np.ndarray, n_owners: int | None = None):
        self.owners = np.asarray(owners).astype(np.int64, copy=False)
        self.n_owners = len(np.unique(self.owners)) if n_owners is None else n_owners
        self._fanout = -(-len(self.owners) // (self.n_owners or 1))  # rows per owner, rounded up

    @classmethod
    @abstractmethod
    def build(cls, vectors: np.ndarray, owners: np.ndarray | None = None,
              exact_limit: int = 20_000) -> VectorIndex: ...

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> VectorIndex: ...

    @abstractmethod
    def save(self, path: Path) -> None: ...

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _search_rows(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` (scores, rows) for one query; row -1 pads a short result."""

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` (owner position, cosine), one entry per owner."""
        if len(self) == 0 or k <= 0:
            return []
        # Over-fetch rows so that k distinct owners survive de-duplication.
        scores, rows = self._search_rows(np.ascontiguousarray(query, np.float32), min(len(self), k * self._fanout))
        real = rows >= 0
        scores, owners = scores[real], self.owners[rows[real]]
        # Rows come best first, so an owner's first row is its best.
        first = np.sort(np.unique(owners, return_index=True)[1])
        first = first[np.argsort(-scores[first], kind="stable")[:k]]
        return list(zip(owners[first].tolist(), scores[first].astype(float).tolist()))


class LayeredVectorIndex(VectorIndex):
    """A built index plus rows added while serving, searched exactly (a brute-force product:
    until the next rebuild folds them in, the added rows are few). Rows keep their numbers:
    the base's first, then the added ones."""

    backend = "layered"

    def __init__(self, base: VectorIndex, extra: np.ndarray, extra_owners: np.ndarray):
        self.base = base
        self.extra = np.ascontiguousarray(extra, np.float32)
        extra_owners = np.asarray(extra_owners, np.int64)
        # Added rows belong to new positions, so their owners are not the base's.
        super().__init__(np.concatenate([base.owners, extra_owners]), base.n_owners + len(np.unique(extra_owners)))
        self._growing: tuple[GrowingArray, GrowingArray] | None = None  # (extra, owners) with room to append

    @classmethod
    def build(cls, vectors: np.ndarray, owners: np.ndarray | None = None,
              exact_limit: int = 20_000) -> VectorIndex:
        raise NotImplementedError("a layered index is made by adding rows to a built one")

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        raise NotImplementedError("added rows live in the catalog write log, not in an index folder")

    def save(self, path: Path) -> None:
        raise NotImplementedError("added rows live in the catalog write log, not in an index folder")

    def __len__(self) -> int:
        return len(self.base) + len(self.extra)

    def _search_rows(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        n_base = len(self.base)
        scores, rows = self.base._search_rows(query, min(n, n_base)) if n_base else (np.zeros(0), np.zeros(0))
        keep = rows >= 0
        scores, rows = np.asarray(scores[keep], np.float32), np.asarray(rows[keep], np.int64)
        if len(self.extra):
            s = self.extra @ query
            top = np.argsort(-s, kind="stable")[:n]
            scores = np.concatenate([scores, s[top]])
            rows = np.concatenate([rows, top + n_base])
        order = np.argsort(-scores, kind="stable")[:n]
        return scores[order], rows[order]

    def extended(self, vectors: np.ndarray, owners: np.ndarray) -> LayeredVectorIndex:
        """A new index with more added rows (this one is left as it is, for searches in flight;
        the new one appends into spare room rather than copying every added row)."""
        owners = np.asarray(owners, np.int64)
        grow_rows, grow_owners = self._growing or (None, None)
        grow_rows, extra = appended(grow_rows, self.extra, np.asarray(vectors, np.float32))
        grow_owners, all_owners = appended(grow_owners, self.owners, owners)
        out = LayeredVectorIndex.__new__(LayeredVectorIndex)
        out.base, out.extra, out._growing = self.base, extra, (grow_rows, grow_owners)
        VectorIndex.__init__(out, all_owners, self.n_owners + len(np.unique(owners)))
        return out


VECTOR_INDEXES: Registry[VectorIndex] = Registry("vector index backend")


class FaissVectorIndex(VectorIndex):
    """faiss: exact inner product up to ``exact_limit`` rows, HNSW above it."""

    backend = "faiss"

    def __init__(self, index: Any, owners: np.ndarray):
        super().__init__(owners)
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, owners: np.ndarray | None = None, exact_limit: int = 20_000,
              hnsw_m: int = 32) -> FaissVectorIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is batch work: every core
        index: faiss.Index
        if n <= exact_limit:
            index = faiss.IndexFlatIP(d)
        else:
            hnsw = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 200
            hnsw.hnsw.efSearch = 128
            index = hnsw
        if n:
            index.add(vectors)
        return cls(index, np.arange(n) if owners is None else np.asarray(owners))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        import faiss

        return isinstance(self._index, faiss.IndexFlat)

    def _search_rows(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        # One query is too little work to share: OpenMP threads only spin against the other
        # requests' threads (a flat 50k search took 22 ms on two threads, 10 ms on one, loaded).
        if faiss.omp_get_max_threads() != 1:
            faiss.omp_set_num_threads(1)
        scores, rows = self._index.search(query.reshape(1, -1), n)
        return scores[0], rows[0]

    def save(self, path: Path) -> None:
        import faiss

        path.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(path / "faiss.index"))
        np.save(path / "owners.npy", self.owners)

    @classmethod
    def load(cls, path: Path) -> FaissVectorIndex:
        import faiss

        return cls(faiss.read_index(str(path / "faiss.index")), np.load(path / "owners.npy"))


VECTOR_INDEXES.register("faiss", FaissVectorIndex)
