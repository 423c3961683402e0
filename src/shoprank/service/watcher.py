"""Follow an index's pointer: a thread that switches the engine to each newly published generation."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeVar

from shoprank.engine import ReloadError, ShopRank

log = logging.getLogger(__name__)


class IndexWatcher:
    """Every ``interval_s``, :meth:`ShopRank.reload` (a no-op while the pointer is unchanged:
    one small file read). A generation that cannot be served is logged once and skipped."""

    def __init__(self, engine: ShopRank, interval_s: float):
        self.engine = engine
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="index-watcher", daemon=True)
        self._failed: str | None = None  # the last error logged, not repeated every poll

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.engine.reload()
                self._failed = None
            except ReloadError as e:
                if str(e) != self._failed:
                    log.error("index watcher: %s", e)
                    self._failed = str(e)


class WriteFollower(IndexWatcher):
    """Every ``interval_s``, apply the catalog writes other processes logged (one indexed read of
    the write log's last sequence number when there are none)."""

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.engine.writer.sync()
                self._failed = None
            except Exception as e:  # keep following: the next poll retries
                if str(e) != self._failed:
                    log.exception("catalog writes: %s", e)
                    self._failed = str(e)


W = TypeVar("W", bound=IndexWatcher)


@contextmanager
def _running(engine: ShopRank, interval: float, kind: type[W]) -> Iterator[W | None]:
    """A ``kind`` thread while inside, when ``interval`` is set and the engine serves an index folder."""
    if interval <= 0 or engine.writer.home is None:
        yield None
        return
    poller = kind(engine, interval)
    poller.start()
    try:
        yield poller
    finally:
        poller.stop()


def follow_writes(engine: ShopRank) -> AbstractContextManager[WriteFollower | None]:
    """Follow the catalog write log while inside, when ``settings.catalog_poll_s`` is set."""
    return _running(engine, engine.settings.catalog_poll_s, WriteFollower)


def watch_index(engine: ShopRank) -> AbstractContextManager[IndexWatcher | None]:
    """Watch while inside, when ``settings.index_watch_s`` is set."""
    return _running(engine, engine.settings.index_watch_s, IndexWatcher)
