"""Where the running online experiment is kept, so every process serving the index runs the same one.

:class:`ExperimentStore` is the interface; :class:`FileExperimentStore` (a JSON file, default
``<home>/experiment.json``, written by ``PUT /admin/experiment``) is registered as ``file`` in
:data:`EXPERIMENT_STORES` and chosen by ``Settings.experiment_store`` (``factory.experiment_store``).

What another backend (a Redis key, a Postgres row) must guarantee:

- **Cheap reads.** ``get`` runs in every search: it answers from memory and looks at the shared
  value at most once per ``recheck_s`` (a second), re-reading it only when it changed. Another
  process's ``put`` is therefore seen within about a second; this process's own at once.
- **Atomic, durable puts.** ``put`` replaces the whole experiment (or, with None, removes it):
  a reader sees the old one or the new, never a mix, and the new one survives a restart.
- **Idempotency.** Putting the same experiment again changes nothing.
- **Robust reads.** A value that no longer parses (edited by hand) is logged and the last good
  experiment keeps being served.
"""
from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from shoprank.analytics.experiments import Experiment
from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.config import Settings

log = logging.getLogger(__name__)

RECHECK_S = 1.0  # how stale another process's change may be when a search reads the experiment


class ExperimentStore(ABC):
    """The running experiment, shared by the processes serving one index."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> ExperimentStore:
        """The store as ``settings`` configure it."""

    @abstractmethod
    def get(self) -> Experiment | None:
        """The running experiment (None: none runs); cheap enough to call in every search."""

    @abstractmethod
    def put(self, experiment: Experiment | None) -> None:
        """Start ``experiment`` (replacing any running one) or, with None, stop it."""

    def close(self) -> None:  # noqa: B027 - optional hook: a backend may hold nothing to release
        pass


class FileExperimentStore(ExperimentStore):
    """The experiment as a JSON file, replaced by rename; re-read when its stat changes."""

    @classmethod
    def from_settings(cls, settings: Settings) -> FileExperimentStore:
        return cls(settings.experiment_path)

    def __init__(self, path: Path, recheck_s: float = RECHECK_S):
        self.path = Path(path)
        self.recheck_s = recheck_s
        self._experiment: Experiment | None = None
        self._seen: tuple[int, int, int] | None = None  # the file read: (mtime, size, inode)
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> Experiment | None:
        now = time.monotonic()
        if now - self._checked < self.recheck_s:
            return self._experiment
        with self._lock:
            self._checked = now
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._experiment, self._seen = None, None
                return None
            seen = (st.st_mtime_ns, st.st_size, st.st_ino)  # a replace changes the inode
            if seen != self._seen:
                try:
                    self._experiment = Experiment.model_validate_json(self.path.read_bytes())
                except (OSError, ValueError) as e:  # keep serving the last good one
                    log.error("%s: not a valid experiment, keeping the previous one: %s", self.path, e)
                self._seen = seen
            return self._experiment

    def put(self, experiment: Experiment | None) -> None:
        with self._lock:
            if experiment is None:
                self.path.unlink(missing_ok=True)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(experiment.model_dump_json(indent=2), encoding="utf-8")
                tmp.replace(self.path)
            self._experiment = experiment
            self._checked = float("-inf")  # the next read records the file's new stat


EXPERIMENT_STORES: Registry[ExperimentStore] = Registry("experiment store")
EXPERIMENT_STORES.register("file", FileExperimentStore)
