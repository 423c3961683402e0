"""Generations of one index: every build writes a new folder, one pointer names the served one.

Layout of an index home (``Settings.index_dir(name)``)::

    CURRENT        the served generation's folder name, e.g. "gen-000007"
    gen-000006/    the previous generation: a server may still be serving it
    gen-000007/    an index folder (see :mod:`shoprank.index.artifacts`)
    .lock          held by the build in progress (one at a time)

A build writes ``gen-<last + 1>/`` beside the others and flushes it to disk; only then does
it replace ``CURRENT`` (temp file, fsync, ``os.replace``, fsync of the folder). A crash before
the replace leaves the previous generation served, untouched; after it, the new one. The build
then removes every generation but the new and the previous one, skipping any that a process
still holds (:meth:`IndexHome.open` takes a shared ``flock`` on the manifest for as long as
the generation is served).

An index folder from before generations (``manifest.json`` in the home itself) opens as the
generation ``flat``. The next build publishes ``gen-000001`` beside it, the one after removes it.

The pointer is a :class:`GenerationPointer`: :class:`FileGenerationPointer` (the ``CURRENT``
file) is registered as ``file`` in :data:`GENERATION_POINTERS` and chosen by
``Settings.generation_store`` (``factory.index_home``). What another backend (a Redis key, a
Postgres row, an object store's object) must guarantee, since servers on other hosts switch
when it changes:

- **Atomic and durable.** ``set`` replaces the name whole (a reader sees the old name or the new,
  never a mix or nothing) and, once it returns, survives a crash of the process and the host.
- **Ordered after the data.** The builder flushes a generation before it calls ``set``; a reader
  that sees the new name must be able to read the whole generation (with shared storage: its
  files are uploaded before the pointer names them).
- **Idempotent and cheap.** Setting the same name twice is harmless; ``get`` is called by every
  server every ``index_watch_s`` and must not create anything.

The generation folders themselves stay on the local file system here (built, held and removed
by :class:`IndexHome`); a shared-storage backend also syncs them before a server opens one.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from shoprank.files import fsync_path
from shoprank.index.artifacts import LAYOUT, IndexArtifacts
from shoprank.index.crashpoints import crash_point
from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

POINTER = "CURRENT"
FLAT = "flat"  # the name of an index folder from before generations
_GENERATION = re.compile(r"gen-(\d{6,})")
_BUILD_LOCK = ".lock"
_OPEN_ATTEMPTS = 5


class Hold:
    """A shared lock on a generation's manifest. Cleanup removes no generation that some process
    holds; the lock goes with :meth:`release`, with the hold's last reference, or with the process."""

    def __init__(self, manifest: Path):
        fd = os.open(manifest, os.O_RDONLY | os.O_CLOEXEC)
        try:
            # Non-blocking: a generation being removed (exclusively locked) is not worth waiting for.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise
        self._release = weakref.finalize(self, os.close, fd)

    def release(self) -> None:
        self._release()


@dataclass(frozen=True)
class Generation:
    """One published build of an index, and the hold that keeps cleanup away from it."""

    name: str  # "gen-000007", or "flat"
    path: Path
    hold: Hold | None = field(default=None, compare=False, repr=False)


def _number(name: str) -> int:
    m = _GENERATION.fullmatch(name)
    return int(m.group(1)) if m else 0


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fsync_path(Path(folder) / name)
        fsync_path(Path(folder))


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


class GenerationPointer(ABC):
    """Names the served generation of one index (see the module for what a backend guarantees)."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, index_root: Path) -> GenerationPointer:
        """The pointer of the index at ``index_root``."""

    @abstractmethod
    def get(self) -> str | None:
        """The name last :meth:`set` (as set, unchecked), or None when none ever was."""

    @abstractmethod
    def set(self, name: str) -> None:
        """Point at ``name``, atomically and durably."""

    def where(self) -> str:
        """Where the pointer lives, for messages."""
        return type(self).__name__


class FileGenerationPointer(GenerationPointer):
    """The ``CURRENT`` file in the index folder, replaced by rename after an fsync."""

    @classmethod
    def from_settings(cls, settings: Settings, index_root: Path) -> FileGenerationPointer:
        return cls(index_root)

    def __init__(self, root: Path):
        self.root = Path(root)

    def get(self) -> str | None:
        try:
            return (self.root / POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None

    def set(self, name: str) -> None:
        tmp = self.root / f"{POINTER}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(name + "\n")
            f.flush()
            os.fsync(f.fileno())
        crash_point("pointer-written")
        os.replace(tmp, self.root / POINTER)
        fsync_path(self.root)

    def where(self) -> str:
        return str(self.root / POINTER)


GENERATION_POINTERS: Registry[GenerationPointer] = Registry("generation pointer store")
GENERATION_POINTERS.register("file", FileGenerationPointer)


class IndexHome:
    """The folder of one named index: its generations and the pointer to the served one
    (``pointer``; default: the ``CURRENT`` file in ``root``)."""

    def __init__(self, root: Path, pointer: GenerationPointer | None = None):
        self.root = Path(root)
        self.pointer = pointer or FileGenerationPointer(self.root)

    def current(self) -> str | None:
        """The served generation's name (``flat`` for an index from before generations), or
        None when nothing was ever published here."""
        name = self.pointer.get()
        if name is None:
            return FLAT if (self.root / "manifest.json").is_file() else None
        if not _GENERATION.fullmatch(name):
            raise ValueError(f"{self.pointer.where()} names {name!r}, not a generation folder")
        return name

    def path(self, name: str) -> Path:
        return self.root if name == FLAT else self.root / name

    def generations(self) -> list[str]:
        """Every generation folder here, oldest first, published or not (a crashed build's too)."""
        if not self.root.is_dir():
            return []
        return sorted((p.name for p in self.root.iterdir() if p.is_dir() and _GENERATION.fullmatch(p.name)),
                      key=_number)

    def open(self) -> tuple[Generation, IndexArtifacts]:
        """Load the served generation and hold it (so no build removes it while it is served)."""
        for _ in range(_OPEN_ATTEMPTS):
            name = self.current()
            if name is None:
                raise FileNotFoundError(f"no shoprank index at {self.root} (run `shoprank index` first)")
            path = self.path(name)
            try:
                hold = Hold(path / "manifest.json")
                art = IndexArtifacts.load(path)
            except Exception:
                if self.current() != name:
                    continue  # two builds published while this one loaded, and the second removed it
                raise
            return Generation(name, path, hold), art
        raise RuntimeError(f"the served generation of {self.root} changed {_OPEN_ATTEMPTS} times while opening it")

    def build(self, write: Callable[[Path], T]) -> tuple[Generation, T]:
        """Write a new generation with ``write(folder)``, flush it, make it the served one, and
        remove old generations. Returns the new generation (held) and what ``write`` returned.

        A failed ``write`` removes its folder and changes nothing else."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._build_lock():
            previous = self.current()
            number = max(map(_number, self.generations()), default=0) + 1
            gen = Generation(f"gen-{number:06d}", self.root / f"gen-{number:06d}")
            gen.path.mkdir()
            try:
                result = write(gen.path)
                _fsync_tree(gen.path)
                fsync_path(self.root)
                hold = Hold(gen.path / "manifest.json")
            except BaseException:
                shutil.rmtree(gen.path, ignore_errors=True)
                raise
            crash_point("written")
            self.pointer.set(gen.name)
            crash_point("switched")
            log.info("%s: published %s (was %s)", self.root, gen.name, previous)
            self.cleanup(keep={gen.name} | ({previous} if previous else set()))
        return Generation(gen.name, gen.path, hold), result

    def cleanup(self, keep: set[str]) -> list[str]:
        """Remove every generation not in ``keep`` that no process holds; returns those removed."""
        names = self.generations() + ([FLAT] if (self.root / "manifest.json").is_file() else [])
        removed = [name for name in names if name not in keep and self._remove(name)]
        if removed:
            log.info("removed old generations of %s: %s", self.root, ", ".join(removed))
        return removed


    def _remove(self, name: str) -> bool:
        path = self.path(name)
        manifest = path / "manifest.json"
        try:
            fd: int | None = os.open(manifest, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None  # a crashed build's folder, or one half removed
        try:
            if fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    log.info("keeping %s: a process still serves it", path)
                    return False
            if name == FLAT:
                # Only what an index writes, the manifest last: a crash half way leaves it for next time.
                doomed = [path / n for n in LAYOUT if n != manifest.name] + [manifest]
            else:
                doomed = [manifest, path]  # the manifest first: a half-removed folder no longer opens
            for n, item in enumerate(doomed):
                _remove_path(item)
                if n == 0:
                    crash_point("cleanup")
        finally:
            if fd is not None:
                os.close(fd)
        return True

    @contextmanager
    def _build_lock(self) -> Iterator[None]:
        with open(self.root / _BUILD_LOCK, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("waiting for another build of %s to finish", self.root)
                fcntl.flock(f, fcntl.LOCK_EX)
            yield  # closing the file releases the lock
