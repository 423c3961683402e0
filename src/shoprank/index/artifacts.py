"""Everything a built index holds on disk, loaded as one object.

Layout of an index folder::

    manifest.json      encoders, backends, counts, catalog fingerprint, build timings
    catalog.jsonl      the validated products; row i is catalog position i
    lexical/           BM25 index
    <modality>/        vector index + owners.npy + vectors.npy, one folder per modality present
    image_labels.json  per-photo ImageNet labels

``shoprank index`` writes each build into a new folder of this layout and switches to it
atomically (see :mod:`shoprank.index.generations`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.arrays import GrowingArray, appended, runs
from shoprank.catalog import Catalog
from shoprank.index.crashpoints import crash_point
from shoprank.index.lexical import LEXICAL_INDEXES, LexicalIndex
from shoprank.index.vector import VECTOR_INDEXES, LayeredVectorIndex, VectorIndex
from shoprank.modalities import MODALITIES

# Every name an index folder may hold (without the manifest the folder is no index).
LAYOUT: tuple[str, ...] = ("manifest.json", "catalog.jsonl", "image_labels.json", "lexical",
                           *(m.name for m in MODALITIES))


@dataclass
class Modality:
    """Vectors of one modality, their vector index, and which product owns each row.

    The rows of each owner are kept as one contiguous run of a row permutation, so the
    per-query work on candidates touches only the candidates' rows."""

    vectors: np.ndarray
    index: VectorIndex
    _order: np.ndarray = field(init=False, repr=False)   # rows sorted by owner
    _starts: np.ndarray = field(init=False, repr=False)  # _order[_starts[p]:_starts[p + 1]]: rows of product p
    _growing: GrowingArray | None = field(default=None, init=False, repr=False)  # vectors' room to append

    def __post_init__(self) -> None:
        owners = self.index.owners
        self._order = np.argsort(owners, kind="stable")
        n = int(owners.max()) + 1 if len(owners) else 0
        self._starts = np.searchsorted(owners[self._order], np.arange(n + 1)).astype(np.int64)

    @property
    def owners(self) -> np.ndarray:
        return self.index.owners

    def _bounds(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.asarray(positions, np.int64)
        lo = np.zeros(len(pos), np.int64)
        hi = np.zeros(len(pos), np.int64)
        ok = pos < len(self._starts) - 1
        lo[ok], hi[ok] = self._starts[pos[ok]], self._starts[pos[ok] + 1]
        return lo, hi

    def rows_of(self, pos: int) -> np.ndarray:
        """The rows (e.g. photos) of the product at ``pos``, in row order."""
        lo, hi = self._bounds(np.array([pos]))
        return self._order[lo[0]:hi[0]]

    def first_rows(self, positions: np.ndarray) -> np.ndarray:
        """Each product's first row (its main photo, its text), -1 for a product without rows."""
        lo, hi = self._bounds(positions)
        out = np.full(len(lo), -1, np.int64)
        has = hi > lo
        out[has] = self._order[lo[has]]
        return out

    def cosine_for(self, q: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Best cosine between ``q`` and each given product's rows (0 for products without rows)."""
        lo, hi = self._bounds(positions)
        counts = hi - lo
        out = np.zeros(len(lo), np.float32)
        total = int(counts.sum())
        if total == 0:
            return out
        has = counts > 0
        # Row indexes of every candidate's run, concatenated.
        rows = self._order[runs(lo, counts)]
        sims = self.vectors[rows] @ np.asarray(q, np.float32)
        out[has] = np.maximum.reduceat(sims, (np.cumsum(counts) - counts)[has])
        return out

    def extended(self, vectors: np.ndarray, owners: np.ndarray) -> Modality:
        """This modality with rows added for new positions (``owners`` beyond every current one).

        This one is left as it is, for searches in flight; the new one appends into spare room
        (no copy of every row on each live write) and extends the owner runs instead of sorting
        all owners again."""
        vectors = np.asarray(vectors, np.float32).reshape(-1, self.vectors.shape[1])
        owners = np.asarray(owners, np.int64)
        if len(owners) and len(self._starts) > 1 and owners.min() < len(self._starts) - 1:
            raise ValueError("added rows must belong to positions after every current owner")
        index = self.index
        layered = index.extended(vectors, owners) if isinstance(index, LayeredVectorIndex) else \
            LayeredVectorIndex(index, vectors, owners)
        growing, all_vectors = appended(self._growing, self.vectors, vectors)
        out = Modality.__new__(Modality)
        out.vectors, out.index, out._growing = all_vectors, layered, growing
        n_rows, n_pos = len(self.vectors), len(self._starts) - 1
        sort = np.argsort(owners, kind="stable")
        out._order = np.concatenate([self._order, n_rows + sort])
        top = int(owners.max()) + 1 if len(owners) else n_pos
        new_starts = n_rows + np.searchsorted(owners[sort], np.arange(n_pos, top + 1))
        out._starts = np.concatenate([self._starts[:n_pos], new_starts]).astype(np.int64)
        return out

    def save(self, path: Path) -> None:
        self.index.save(path)
        np.save(path / "vectors.npy", self.vectors)

    @classmethod
    def load(cls, path: Path, backend: str = "faiss") -> Modality:
        return cls(np.load(path / "vectors.npy"), VECTOR_INDEXES.get_class(backend).load(path))


@dataclass
class IndexArtifacts:
    catalog: Catalog
    lexical: LexicalIndex
    modalities: dict[str, Modality]
    manifest: dict[str, Any] = field(default_factory=dict)
    # Per-image top ImageNet labels (aligned with modalities["image"] rows), for explanations.
    image_labels: list[list[tuple[str, float]]] = field(default_factory=list)

    @property
    def joint(self) -> bool:
        """Built with a joint text-image encoder: photos live in the text space."""
        return bool(self.manifest.get("joint_text_image"))

    def photo_labels(self, pos: int) -> list[list[tuple[str, float]]]:
        """What the image model saw in each photo of the product at ``pos``."""
        img = self.modalities.get("image")
        if img is None or not self.image_labels:
            return []
        return [self.image_labels[r] for r in img.rows_of(pos)]

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.catalog.save(path / "catalog.jsonl")
        for name, mod in self.modalities.items():
            mod.save(path / name)
        (path / "image_labels.json").write_text(json.dumps(self.image_labels))
        crash_point("saving")
        (path / "manifest.json").write_text(json.dumps(self.manifest, indent=2))

    @classmethod
    def load(cls, path: Path) -> IndexArtifacts:
        if not (path / "manifest.json").is_file():
            raise FileNotFoundError(f"no shoprank index at {path} (run `shoprank index` first)")
        manifest = json.loads((path / "manifest.json").read_text())
        backend = manifest.get("vector_backend", "faiss")
        mods = {m.name: Modality.load(path / m.name, backend) for m in MODALITIES
                if (path / m.name / "owners.npy").is_file()}
        labels_file = path / "image_labels.json"
        labels = [[(a, float(b)) for a, b in row] for row in json.loads(labels_file.read_text())] \
            if labels_file.is_file() else []
        lexical = LEXICAL_INDEXES.get_class(manifest.get("lexical_backend", "tantivy")).open(path / "lexical")
        return cls(Catalog.load(path / "catalog.jsonl"), lexical, mods, manifest, labels)
