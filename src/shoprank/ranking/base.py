"""The ranker contract: score a batch of one query's candidates, explain, save, load.

Rankers are chosen by name from :data:`RANKERS`. A saved ranker is a folder with
``ranker.json`` (``{"type": <registered name>, ...}``) that :func:`load_ranker` reads back.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shoprank.features.registry import FEATURE_NAMES
from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.index.artifacts import IndexArtifacts


@dataclass
class CandidateBatch:
    """What a ranker sees for one query.

    ``X`` holds the engineered features (columns :data:`FEATURE_NAMES`). Rankers that fuse
    embeddings read, per modality, the query's vector (:meth:`query_vector`) and the
    candidates' vectors (:meth:`item_vectors`); both are gathered only when asked for.
    """

    X: np.ndarray
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    product_ids: list[str] = field(default_factory=list)
    query_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # QueryEncoding.vectors
    artifacts: IndexArtifacts | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.X)

    @classmethod
    def from_features(cls, X: np.ndarray) -> CandidateBatch:
        """A batch of feature rows alone (training logs, offline scoring)."""
        return cls(np.asarray(X, np.float32))

    def modalities(self) -> list[str]:
        return [] if self.artifacts is None else list(self.artifacts.modalities)

    def query_vector(self, modality: str) -> np.ndarray | None:
        """The query's vector in ``modality``'s space (its first route the query can take)."""
        from shoprank.modalities import BY_NAME

        spec = BY_NAME.get(modality)
        for route in spec.routes if spec else ():
            vec = self.query_vectors.get(spec.query_key(route)) if spec else None
            if vec is not None:
                return vec
        return None

    def item_vectors(self, modality: str) -> tuple[np.ndarray, np.ndarray]:
        """``(vectors (n, d), present (n,))``: each candidate's first row in ``modality``
        (its main photo, its text); rows of candidates without one are 0 and not present."""
        mod = None if self.artifacts is None else self.artifacts.modalities.get(modality)
        if mod is None:
            return np.zeros((len(self), 0), np.float32), np.zeros(len(self), bool)
        rows = mod.first_rows(self.positions)
        present = rows >= 0
        out = np.zeros((len(self), mod.vectors.shape[1]), np.float32)
        out[present] = mod.vectors[rows[present]]
        return out, present


class Ranker(ABC):
    """Scores the candidates of one query and says why."""

    name: str = "ranker"
    feature_names: list[str] = FEATURE_NAMES

    @abstractmethod
    def score(self, batch: CandidateBatch) -> np.ndarray:
        """One score per candidate; higher ranks first."""

    @abstractmethod
    def explain(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> np.ndarray:
        """Per-feature contributions of ``rows`` (default: all), judged within the whole batch.

        A row's contributions plus :meth:`base_score` equal its score."""

    def base_score(self) -> float:
        """The part of every score that no feature explains (a model's expected value)."""
        return 0.0

    def modality_weights(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> list[dict[str, float]]:
        """Per row of ``rows`` (default: all), the weight each modality got; empty where the
        ranker does not weigh modalities."""
        return [{} for _ in (range(len(batch)) if rows is None else rows)]

    @abstractmethod
    def _save(self, path: Path) -> dict[str, Any]:
        """Write the model's files under ``path``; return what ``ranker.json`` should add."""

    @classmethod
    @abstractmethod
    def _load(cls, path: Path, meta: dict[str, Any]) -> Ranker: ...

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        meta = {"type": self.name, "features": self.feature_names, **self._save(path)}
        (path / "ranker.json").write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, path: Path) -> Ranker:
        meta = read_meta(path)
        if meta["features"] != FEATURE_NAMES:
            raise ValueError(f"{path}: model was trained on other features than this version computes")
        return cls._load(path, meta)


RANKERS: Registry[Ranker] = Registry("ranker")


def read_meta(path: Path) -> dict[str, Any]:
    meta_file = path / "ranker.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"no saved ranker at {path} (ranker.json missing)")
    meta: dict[str, Any] = json.loads(meta_file.read_text())
    return meta


def load_ranker(path: Path) -> Ranker:
    """A ranker saved by :meth:`Ranker.save`, whichever registered type it is."""
    return RANKERS.get_class(read_meta(path)["type"]).load(path)
