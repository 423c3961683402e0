"""Dense vector search with faiss: exact inner product for small sets, HNSW for large ones."""
from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


class VectorIndex:
    """Inner-product search over L2-normalised rows (so scores are cosines).

    ``owners[i]`` is the catalog position that row ``i`` belongs to: a product may own
    several rows (one per photo), and results keep each product's best row.
    """

    def __init__(self, index: faiss.Index, owners: np.ndarray):
        self._index = index
        self.owners = owners.astype(np.int64)
        n_owners = len(np.unique(self.owners)) or 1
        self._fanout = -(-len(self.owners) // n_owners)  # rows per owner, rounded up

    @classmethod
    def build(cls, vectors: np.ndarray, owners: np.ndarray | None = None, exact_limit: int = 100_000,
              hnsw_m: int = 32) -> "VectorIndex":
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, d = vectors.shape
        if n <= exact_limit:
            index: faiss.Index = faiss.IndexFlatIP(d)
        else:
            index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 200
            index.hnsw.efSearch = 128
        if n:
            index.add(vectors)
        return cls(index, np.arange(n) if owners is None else np.asarray(owners))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def exact(self) -> bool:
        return isinstance(self._index, faiss.IndexFlat)

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top ``k`` (owner position, cosine), one entry per owner."""
        if len(self) == 0:
            return []
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        # Over-fetch rows so that k distinct owners survive de-duplication.
        fetch = min(len(self), k * self._fanout)
        scores, rows = self._index.search(q, fetch)
        best: dict[int, float] = {}
        for s, r in zip(scores[0], rows[0]):
            if r < 0:
                continue
            o = int(self.owners[r])
            if o not in best:
                best[o] = float(s)
        return sorted(best.items(), key=lambda t: -t[1])[:k]

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._index, str(path / "faiss.index"))
        np.save(path / "owners.npy", self.owners)

    @classmethod
    def load(cls, path: Path) -> "VectorIndex":
        return cls(faiss.read_index(str(path / "faiss.index")), np.load(path / "owners.npy"))
