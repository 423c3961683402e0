"""Fitted collaborative models, saved once and loaded by every process that opens personalization.

Fitting "for you" and "bought together" reads the whole event log; before this store every
server process fitted its own copy at start. Now the first one fits and saves a
:class:`CollaborativeFit`, and the others load it when it is current (see
:meth:`~shoprank.personalization.online.Personalizer.load_or_train`).

:class:`CFModelStore` is the interface; :class:`FileCFModelStore` (``<home>/models/cf-<kind>.zip``)
is registered as ``file`` in :data:`~shoprank.personalization.backends.CF_MODEL_STORES` and chosen
by ``Settings.cf_model_store`` (``factory.cf_model_store``). What another backend (a Redis key, a
Postgres large object, an object store) must guarantee:

- **Atomic saves.** A reader gets a whole fit or none: never the models of one fit with the mark
  of another. Durability is optional: a lost fit is fitted again.
- **Honest marks.** ``load`` returns the :class:`LogMark` saved with the models; the caller uses
  the models only when the mark equals the log as it reads it now.
- **A lock per kind** across processes (``lock``): the processes that open together wait for one
  fit and load it instead of each fitting the same model. It must be released when its holder
  dies (flock; a Redis lock with an expiry).
- **Unreadable is absent.** A fit that cannot be read (another version, a torn file) loads as None.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import tempfile
import time
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shoprank.config import Settings
    from shoprank.personalization.collaborative.base import Recommender

log = logging.getLogger(__name__)

FORMAT = "shoprank.cf-fit"
FORMAT_VERSION = 1
_PARTS = ("recommender", "related")


@dataclass(frozen=True)
class LogMark:
    """The event log as a fit saw it: which log, its last sequence number, how many events.

    Equal marks mean the same events: the log only grows by higher seqs and shrinks by deletes
    (forgetting a shopper lowers the count, so a fit holding their events is not reused)."""

    log_id: str
    last_seq: int
    count: int


@dataclass(frozen=True)
class CollaborativeFit:
    """The models :meth:`Personalizer.train` fits, with the mark of the events they were fitted on."""

    kind: str  # the "for you" model's name in COLLABORATIVE_MODELS
    mark: LogMark
    recommender: Recommender | None  # None: not trainable on these events
    related: Recommender | None  # "bought together"
    fitted_at: float = field(default_factory=time.time)


class CFModelStore(ABC):
    """Fits by kind, shared by processes (see the module for what a backend guarantees)."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> CFModelStore:
        """The store as ``settings`` configure it."""

    @abstractmethod
    def load(self, kind: str) -> CollaborativeFit | None:
        """The fit last saved for ``kind``, or None (none saved, or unreadable)."""

    @abstractmethod
    def save(self, fit: CollaborativeFit) -> None:
        """Replace the saved fit of ``fit.kind``, atomically."""

    @abstractmethod
    def lock(self, kind: str) -> AbstractContextManager[None]:
        """Held while a process checks for a current fit of ``kind`` and fits one if there is none."""


class FileCFModelStore(CFModelStore):
    """One zip file per kind (``cf-<kind>.zip``: ``fit.json`` and each model's saved folder),
    written beside and renamed over the old one; ``flock`` on ``cf-<kind>.lock`` for the lock."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FileCFModelStore:
        return cls(settings.home / "models")

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, kind: str) -> Path:
        return self.folder / f"cf-{kind}.zip"

    def load(self, kind: str) -> CollaborativeFit | None:
        from shoprank.personalization.collaborative.base import Recommender

        try:
            with zipfile.ZipFile(self.path(kind)) as zf, tempfile.TemporaryDirectory() as tmp:
                meta = json.loads(zf.read("fit.json"))
                if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
                    raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} file")
                zf.extractall(tmp)  # our own member names: model folders only
                models = {part: Recommender.load(Path(tmp) / part) if meta[part] else None for part in _PARTS}
                return CollaborativeFit(kind, LogMark(**meta["mark"]), models["recommender"], models["related"],
                                        float(meta["fitted_at"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as e:
            log.warning("%s: cannot load the saved collaborative models, fitting them again: %s", self.path(kind), e)
            return None

    def save(self, fit: CollaborativeFit) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "kind": fit.kind, "fitted_at": fit.fitted_at,
                "mark": {"log_id": fit.mark.log_id, "last_seq": fit.mark.last_seq, "count": fit.mark.count},
                "recommender": fit.recommender is not None, "related": fit.related is not None}
        final = self.path(fit.kind)
        tmp_zip = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            with tempfile.TemporaryDirectory(dir=self.folder) as tmp, \
                    zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_STORED) as zf:
                zf.writestr("fit.json", json.dumps(meta))
                for part, model in (("recommender", fit.recommender), ("related", fit.related)):
                    if model is not None:
                        for f in sorted(model.save(Path(tmp) / part).iterdir()):
                            zf.write(f, f"{part}/{f.name}")
            tmp_zip.replace(final)  # readers see the old fit or this one, never half of one
        finally:
            tmp_zip.unlink(missing_ok=True)

    @contextmanager
    def lock(self, kind: str) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"cf-{kind}.lock", "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            yield  # closing the file (or the process dying) releases the lock
