"""The catalog write log: the durable, ordered record of catalog writes every server of an index applies.

:class:`CatalogLog` is the interface; :class:`SQLiteCatalogLog` (``<index>/writes.sqlite``) is
registered as ``sqlite`` in :data:`WRITE_LOGS` and chosen by ``Settings.write_log_store``
(``factory.write_log``). Applying the writes lives in :mod:`shoprank.index.live`.

What a backend (Redis, Postgres, ...) must guarantee, because every server applies the log by
polling ``scan(after=<the last seq it applied>)`` and a generation records the seq it folded in:

- **Ordering.** ``append`` hands out strictly increasing sequence numbers, and once it has returned
  seq ``n`` every write with a lower seq is committed and visible: a reader that applied up to
  ``n`` never later finds a write below ``n``. (Postgres: number the writes under one lock, e.g. a
  counter row updated in the same transaction, not a bare SEQUENCE, whose numbers commit out of
  order; Redis: a stream, or INCR and the write in one MULTI or script.) Seqs are never reused,
  after a restart either.
- **Durability and atomicity.** When ``append`` returns, its writes are committed together and
  survive the process and the store's host (fsync or synchronous replication): the HTTP write is
  acknowledged after it.
- **Idempotency** is the appliers': a retried ``append`` logs the writes again, and applying a write
  twice changes nothing (a put replaces the whole product, a delete of a missing id is counted).
- **Sharing.** Threads and processes share one log; ``scan`` yields a page at a time without
  holding a lock while the caller consumes, and ``last_seq`` is cheap (servers call it every
  ``catalog_poll_s``). ``exists`` creates nothing: opening an index must not create its log.
"""
from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shoprank.registry import Registry
from shoprank.types import STORED, Product

if TYPE_CHECKING:
    from shoprank.config import Settings

WRITE_LOG = "writes.sqlite"
SCAN_PAGE = 1000


@dataclass(frozen=True, slots=True)
class CatalogWrite:
    """One catalog write: ``put`` a whole product (new or replacing), or ``delete`` an id."""

    op: Literal["put", "delete"]
    id: str
    product: Product | None = None

    @classmethod
    def put(cls, p: Product) -> CatalogWrite:
        return cls("put", p.id, p)

    @classmethod
    def delete(cls, pid: str) -> CatalogWrite:
        return cls("delete", pid)


class CatalogLog(ABC):
    """The durable, ordered log of one index's catalog writes (see the module for the guarantees)."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, index_root: Path) -> CatalogLog:
        """The log of the index at ``index_root``, created when missing."""

    @classmethod
    @abstractmethod
    def exists(cls, settings: Settings, index_root: Path) -> bool:
        """Whether the index at ``index_root`` has a log (anything was ever logged); creates nothing."""

    @abstractmethod
    def append(self, writes: Sequence[CatalogWrite]) -> list[int]:
        """Commit ``writes`` durably, all or none, and return their sequence numbers."""

    @abstractmethod
    def scan(self, after: int = 0, until: int | None = None) -> Iterator[tuple[int, CatalogWrite]]:
        """Writes with ``after < seq <= until``, in sequence order."""

    @abstractmethod
    def last_seq(self) -> int:
        """The highest sequence number committed (0 for an empty log)."""

    def close(self) -> None:  # noqa: B027 - optional hook: a backend may hold nothing to release
        pass


class SQLiteCatalogLog(CatalogLog):
    """The log in one SQLite file (WAL, ``synchronous=FULL``); safe for threads and for processes on one host."""

    @classmethod
    def from_settings(cls, settings: Settings, index_root: Path) -> SQLiteCatalogLog:
        return cls(Path(index_root) / WRITE_LOG)

    @classmethod
    def exists(cls, settings: Settings, index_root: Path) -> bool:
        return (Path(index_root) / WRITE_LOG).is_file()

    def __init__(self, path: Path):
        from shoprank.sqlitedb import connect_wal

        self.path = Path(path)
        self._conn = connect_wal(self.path, "FULL")
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS writes (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                               " op TEXT NOT NULL, id TEXT NOT NULL, product TEXT, recorded REAL NOT NULL)")

    def append(self, writes: Sequence[CatalogWrite]) -> list[int]:
        now = time.time()
        seqs = []
        with self._lock:
            # One writer at a time (BEGIN IMMEDIATE) and AUTOINCREMENT: seqs are committed in order.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for w in writes:
                    body = w.product.model_dump_json() if w.product is not None else None
                    cur = self._conn.execute("INSERT INTO writes (op, id, product, recorded) VALUES (?, ?, ?, ?)",
                                             (w.op, w.id, body, now))
                    seqs.append(int(cur.lastrowid or 0))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        return seqs

    def scan(self, after: int = 0, until: int | None = None) -> Iterator[tuple[int, CatalogWrite]]:
        until = (1 << 63) - 1 if until is None else until
        last = after
        while True:
            with self._lock:
                rows = self._conn.execute("SELECT seq, op, id, product FROM writes WHERE seq > ? AND seq <= ?"
                                          " ORDER BY seq LIMIT ?", (last, until, SCAN_PAGE)).fetchall()
            for seq, op, pid, body in rows:
                # An acknowledged write loads whatever caps came since: cut to them, never refused.
                p = Product.model_validate(json.loads(body), context=STORED) if body is not None else None
                yield seq, CatalogWrite(op, pid, p)
            if len(rows) < SCAN_PAGE:
                return
            last = rows[-1][0]

    def last_seq(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT MAX(seq) FROM writes").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


WRITE_LOGS: Registry[CatalogLog] = Registry("catalog write log")
WRITE_LOGS.register("sqlite", SQLiteCatalogLog)
