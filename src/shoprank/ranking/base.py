"""The ranker contract: score a batch of one query's candidates, explain, save, load.

Rankers are chosen by name from :data:`RANKERS`. A saved ranker is a folder with
``ranker.json`` (``{"type": <registered name>, "features": [...], ...}``) that
:func:`load_ranker` reads back.

Models bind their inputs by feature *name*, as Vespa's rank profiles hand a LightGBM model its
``feature_names``: each ranker keeps the names it was trained on (``feature_names``) and takes
those columns from a batch by name (:meth:`CandidateBatch.columns`), so a feature added to the
registry, or the batch's columns in another order, leave a saved model's scores unchanged. A
feature the batch has and the model does not know is ignored by the model; one the model reads
and the batch lacks gets its declared fallback (``Feature.missing``; 0.0 for a name this version
does not declare), logged once per process.
"""
from __future__ import annotations

import json
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shoprank.features.registry import BY_NAME as FEATURES_BY_NAME
from shoprank.features.registry import FEATURE_NAMES
from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.index.artifacts import IndexArtifacts

log = logging.getLogger(__name__)
_reported_missing: set[str] = set()  # feature names already logged as absent: once per process
_report_lock = threading.Lock()


def fallback_value(name: str) -> float:
    """What a model reading feature ``name`` gets from a batch without that column: the feature's
    declared ``missing`` value, or 0.0 for a name this version does not declare (a removed feature)."""
    feature = FEATURES_BY_NAME.get(name)
    return 0.0 if feature is None else float(feature.missing)


def _report_missing(names: Sequence[str]) -> None:
    with _report_lock:
        new = [n for n in names if n not in _reported_missing]
        _reported_missing.update(new)
    for n in new:
        known = "declared" if n in FEATURES_BY_NAME else "not computed by this version"
        log.warning("a model reads feature %r, which the candidates lack (%s): it gets %s", n, known,
                    fallback_value(n))


@dataclass
class CandidateBatch:
    """What a ranker sees for one query.

    ``X`` holds the engineered features, one column per name of ``names`` (default
    :data:`FEATURE_NAMES`, what this version's extractor computes); a model reads its own
    columns by name with :meth:`columns`. Rankers that fuse embeddings read, per modality, the
    query's vector (:meth:`query_vector`) and the candidates' vectors (:meth:`item_vectors`);
    both are gathered only when asked for.
    """

    X: np.ndarray
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    product_ids: list[str] = field(default_factory=list)
    query_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # QueryPlan.vectors
    artifacts: IndexArtifacts | None = field(default=None, repr=False)
    names: list[str] = field(default_factory=lambda: FEATURE_NAMES)  # the columns of X

    def __post_init__(self) -> None:
        if np.ndim(self.X) == 2 and np.shape(self.X)[1] != len(self.names):
            raise ValueError(f"{np.shape(self.X)[1]} feature columns for {len(self.names)} names")

    def __len__(self) -> int:
        return len(self.X)

    @classmethod
    def from_features(cls, X: np.ndarray, names: Sequence[str] | None = None) -> CandidateBatch:
        """A batch of feature rows alone (training logs, offline scoring); ``names``: its columns
        (default :data:`FEATURE_NAMES`)."""
        return cls(np.asarray(X, np.float32), names=FEATURE_NAMES if names is None else list(names))

    def lacks(self, names: Sequence[str]) -> list[str]:
        """Those of ``names`` this batch has no column for, in their order."""
        have = set(self.names)
        return [n for n in names if n not in have]

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """The columns ``names``, in that order (n, len(names)); a name the batch lacks gets
        :func:`fallback_value` (logged once per process). May be ``X`` itself: do not modify it."""
        if names is self.names or list(names) == self.names:
            return self.X
        at = {n: j for j, n in enumerate(self.names)}
        missing = [n for n in names if n not in at]
        if not missing:  # C order, as X is: what a model computes must not depend on the batch's layout
            return np.ascontiguousarray(self.X[:, [at[n] for n in names]])
        _report_missing(missing)
        out = np.empty((len(self.X), len(names)), np.result_type(self.X, np.float32))
        for j, n in enumerate(names):
            out[:, j] = self.X[:, at[n]] if n in at else fallback_value(n)
        return out

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
    feature_names: list[str]  # the features the model was trained on, in its input order (set per instance)

    @abstractmethod
    def score(self, batch: CandidateBatch) -> np.ndarray:
        """One score per candidate; higher ranks first."""

    @abstractmethod
    def explain(self, batch: CandidateBatch, rows: Sequence[int] | None = None) -> np.ndarray:
        """Per-feature contributions of ``rows`` (default: all), judged within the whole batch.

        Columns follow :meth:`explained_names`: the batch's own (``batch.names``; one the model
        does not read contributes 0), then each feature the model reads that the batch lacks,
        under its own name (it was scored at its fallback value). A row's contributions plus
        :meth:`base_score` equal its score."""

    def explained_names(self, batch: CandidateBatch) -> list[str]:
        """The names of :meth:`explain`'s columns for ``batch``."""
        return [*batch.names, *batch.lacks(self.feature_names)]

    def _by_batch_columns(self, batch: CandidateBatch, contrib: np.ndarray) -> np.ndarray:
        """Contributions in the model's column order (rows, len(feature_names)) laid out as
        :meth:`explain` returns them."""
        contrib = np.asarray(contrib)
        names = self.explained_names(batch)
        if names == self.feature_names:
            return contrib
        at = {n: j for j, n in enumerate(names)}
        out = np.zeros((len(contrib), len(names)), contrib.dtype)
        out[:, [at[n] for n in self.feature_names]] = contrib
        return out

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
        """A saved ranker, bound to the features it was trained on (whatever this version computes)."""
        return cls._load(path, read_meta(path))


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
