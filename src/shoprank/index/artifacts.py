"""Everything a built index holds on disk, loaded as one object.

Layout of an index folder::

    manifest.json      encoders, counts, catalog fingerprint, build timings
    catalog.jsonl      the validated products; row i is catalog position i
    lexical/           tantivy BM25 index
    text/ image/ label/ review/ color/   faiss index + owners.npy + vectors.npy per modality
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shoprank.catalog import Catalog
from shoprank.index.lexical import LexicalIndex
from shoprank.index.vector import VectorIndex

MODALITIES = ("text", "image", "label", "review", "color")


@dataclass
class Modality:
    """Vectors of one modality, their faiss index, and which product owns each row."""

    vectors: np.ndarray
    index: VectorIndex

    @property
    def owners(self) -> np.ndarray:
        return self.index.owners

    def cosine_per_product(self, q: np.ndarray, n_products: int) -> np.ndarray:
        """Best cosine between ``q`` and each product's rows (0 for products without rows)."""
        out = np.zeros(n_products, np.float32)
        if len(self.vectors):
            sims = self.vectors @ q.astype(np.float32)
            out.fill(-np.inf)
            np.maximum.at(out, self.owners, sims)
            out[np.isneginf(out)] = 0.0
        return out

    def save(self, path: Path) -> None:
        self.index.save(path)
        np.save(path / "vectors.npy", self.vectors)

    @classmethod
    def load(cls, path: Path) -> "Modality":
        return cls(np.load(path / "vectors.npy"), VectorIndex.load(path))


@dataclass
class IndexArtifacts:
    catalog: Catalog
    lexical: LexicalIndex
    modalities: dict[str, Modality]
    manifest: dict[str, Any] = field(default_factory=dict)
    # Per-image top ImageNet labels (aligned with modalities["image"] rows), for explanations.
    image_labels: list[list[tuple[str, float]]] = field(default_factory=list)

    def photo_labels(self, pos: int) -> list[list[tuple[str, float]]]:
        """What the image model saw in each photo of the product at ``pos``."""
        img = self.modalities.get("image")
        if img is None or not self.image_labels:
            return []
        return [self.image_labels[r] for r in np.flatnonzero(img.owners == pos)]

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.catalog.save(path / "catalog.jsonl")
        for name, mod in self.modalities.items():
            mod.save(path / name)
        (path / "image_labels.json").write_text(json.dumps(self.image_labels))
        (path / "manifest.json").write_text(json.dumps(self.manifest, indent=2))

    @classmethod
    def load(cls, path: Path) -> "IndexArtifacts":
        if not (path / "manifest.json").is_file():
            raise FileNotFoundError(f"no shoprank index at {path} (run `shoprank index` first)")
        manifest = json.loads((path / "manifest.json").read_text())
        mods = {m: Modality.load(path / m) for m in MODALITIES if (path / m / "faiss.index").is_file()}
        labels_file = path / "image_labels.json"
        labels = [[(a, float(b)) for a, b in row] for row in json.loads(labels_file.read_text())] \
            if labels_file.is_file() else []
        return cls(Catalog.load(path / "catalog.jsonl"), LexicalIndex.open(path / "lexical"), mods, manifest, labels)
