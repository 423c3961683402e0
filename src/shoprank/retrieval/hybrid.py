"""Hybrid retrieval: BM25 plus dense retrievers per modality, fused late."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from shoprank.index.artifacts import IndexArtifacts
from shoprank.retrieval.fusion import Run, linear_fuse, rrf_fuse
from shoprank.types import FusionMethod

# How much each retriever's list counts in fusion.
DEFAULT_WEIGHTS: dict[str, float] = {
    "bm25": 1.0,        # words in title/description/category/attributes/reviews
    "text": 1.0,        # query text vs product text (multilingual)
    "label": 0.5,       # query text vs what the image model sees in product photos
    "review": 0.3,      # query text vs what reviewers wrote
    "image": 1.5,       # query photo vs product photos
    "photo_text": 0.5,  # what the image model sees in the query photo vs product text
}


@dataclass
class QueryEncoding:
    """A query after encoding: whatever of text and photo the shopper gave."""

    text: str | None = None
    text_vec: np.ndarray | None = None
    photo_vec: np.ndarray | None = None
    photo_labels: list[tuple[str, float]] = field(default_factory=list)
    photo_label_vec: np.ndarray | None = None  # the photo's labels embedded as a text query
    photo_color_vec: np.ndarray | None = None  # the photo's colour histogram


@dataclass
class HybridRetriever:
    artifacts: IndexArtifacts
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    rrf_k: int = 60

    def _dense(self, modality: str, vec: np.ndarray | None, k: int) -> Run:
        mod = self.artifacts.modalities.get(modality)
        if vec is None or mod is None:
            return []
        return mod.index.search(vec, k)

    def runs(self, q: QueryEncoding, k: int) -> dict[str, Run]:
        """Each applicable retriever's top ``k`` as (catalog position, score)."""
        runs: dict[str, Run] = {}
        if q.text:
            runs["bm25"] = self.artifacts.lexical.search(q.text, k)
        if q.text_vec is not None:
            for mod in ("text", "label", "review"):
                runs[mod] = self._dense(mod, q.text_vec, k)
        if q.photo_vec is not None:
            runs["image"] = self._dense("image", q.photo_vec, k)
        if q.photo_label_vec is not None:
            runs["photo_text"] = self._dense("text", q.photo_label_vec, k)
        return {name: run for name, run in runs.items() if run}

    def fuse(self, runs: Mapping[str, Run], method: FusionMethod = "rrf") -> list[tuple[int, float]]:
        if method == "rrf":
            return rrf_fuse(runs, self.rrf_k, self.weights)
        if method == "linear":
            return linear_fuse(runs, self.weights)
        raise ValueError(f"unknown fusion {method!r}; choose 'rrf' or 'linear'")
