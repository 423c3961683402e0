"""The impression log: what each search showed, to whom, under which ranker and experiment arm.

Every search response carries a ``search_id``; events that name it (``click``/``cart``/
``purchase``/``view`` with ``search_id`` and ``position``) tie what a shopper did to what
they were shown. That join is what analytics, click models and online experiments read.

Durability: a record is written to SQLite (WAL, ``synchronous=NORMAL``) in the search's own
worker thread, before the response leaves. A WAL commit without fsync is one ``write()`` into
the kernel's page cache, about 0.05 ms, so a killed server process loses no acknowledged
impression; a power cut or kernel crash can lose the last commits since the OS last flushed
the file (the file itself stays consistent). Unlike events, impressions are not worth an
fsync per search.

Privacy: :meth:`ImpressionLog.forget` deletes a shopper's impressions; after
``anonymize_after_s`` every record loses its user and session ids (the query, the products
shown and the arm stay, for aggregate analytics); after ``retention_s`` records are deleted.

:class:`ImpressionLog` is the interface; :class:`SQLiteImpressionLog` is registered as ``sqlite``
in :data:`IMPRESSION_LOGS` and chosen by ``Settings.impression_store`` (``factory.impression_log``).
What another backend (Redis, Postgres, a column store) must guarantee:

- **Durability:** when ``extend`` returns, its records survive the process being killed (they
  are written before the response leaves; a host crash may lose the last ones). The records of
  one ``extend`` are written together.
- **Idempotency:** ``search_id`` is the key: writing a record again replaces it.
- **Ordering:** ``scan`` yields in ``(ts, search_id)`` order a page at a time, so a report over
  millions of searches runs in bounded memory and sees each record once.
- **Privacy:** ``forget`` removes the user's records and their sessions' anonymous ones in one
  step, never a record naming another user; ``enforce_retention`` anonymizes and deletes by age.
- **Sharing:** threads and processes (every API worker) write one log at once.
"""
from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shoprank.registry import Registry
from shoprank.sqlitedb import connect_wal, delete_user_rows

if TYPE_CHECKING:
    from shoprank.config import Settings

log = logging.getLogger(__name__)

SearchKind = Literal["text", "photo", "voice", "text+photo", "voice+photo", "browse"]
SCAN_PAGE = 5_000
RETENTION_EVERY_S = 3600.0  # how often appends also enforce retention
RETENTION_BATCH = 1000


def new_search_id() -> str:
    """A random id (122 bits): it cannot be guessed to attach events to someone else's search."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Impression:
    """One results page as served."""

    search_id: str
    ts: float
    kind: SearchKind
    products: tuple[str, ...]          # shown, position 1 first
    query: str | None = None           # the text searched (a voice query's transcript)
    user_id: str | None = None
    session_id: str | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    sort: str = "relevance"
    ranker: str = ""
    experiment: str | None = None
    arm: str | None = None             # A/B: the arm's name; interleaving: "interleaved"
    teams: tuple[str, ...] | None = None  # interleaving: the arm ("a"/"b") that placed each position
    candidates: int = 0                # candidates ranked (0 with products empty: a zero-result search)
    latency_ms: float = 0.0
    personalized: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["products"] = list(self.products)
        d["teams"] = list(self.teams) if self.teams is not None else None
        return d


_COLUMNS = ("search_id", "ts", "kind", "products", "query", "user_id", "session_id", "filters", "sort",
            "ranker", "experiment", "arm", "teams", "candidates", "latency_ms", "personalized")


def _row(imp: Impression) -> tuple[Any, ...]:
    return (imp.search_id, imp.ts, imp.kind, json.dumps(list(imp.products)), imp.query, imp.user_id,
            imp.session_id, json.dumps(imp.filters, sort_keys=True) if imp.filters else None, imp.sort,
            imp.ranker, imp.experiment, imp.arm, json.dumps(list(imp.teams)) if imp.teams is not None else None,
            imp.candidates, imp.latency_ms, int(imp.personalized))


def _impression(row: tuple[Any, ...]) -> Impression:
    (sid, ts, kind, products, query, user_id, session_id, filters, sort, ranker, experiment, arm, teams,
     candidates, latency_ms, personalized) = row
    return Impression(search_id=sid, ts=ts, kind=kind, products=tuple(json.loads(products)), query=query,
                      user_id=user_id, session_id=session_id, filters=json.loads(filters) if filters else {},
                      sort=sort, ranker=ranker, experiment=experiment, arm=arm,
                      teams=tuple(json.loads(teams)) if teams else None, candidates=candidates,
                      latency_ms=latency_ms, personalized=bool(personalized))


class ImpressionLog(ABC):
    """What each search showed (see the module for what a backend guarantees)."""

    anonymize_after_s: float | None = None  # records lose their user and session ids this old
    retention_s: float | None = None  # and are deleted this old

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> ImpressionLog:
        """The log as ``settings`` configure it (its place and retention)."""

    def append(self, imp: Impression) -> None:
        """Write ``imp``; when this returns it survives the process being killed."""
        self.extend([imp])

    @abstractmethod
    def extend(self, imps: Iterable[Impression]) -> int:
        """Write ``imps`` (replacing any with the same ``search_id``); return how many."""

    @abstractmethod
    def get(self, search_id: str) -> Impression | None: ...

    @abstractmethod
    def scan(self, since: float | None = None, until: float | None = None) -> Iterator[Impression]:
        """Impressions with ``since <= ts < until`` in ``(ts, search_id)`` order."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def sessions_of(self, user_id: str) -> set[str]:
        """Session ids that appeared together with ``user_id``."""

    @abstractmethod
    def forget(self, user_id: str, sessions: Iterable[str] = ()) -> int:
        """Delete the user's impressions, and those of ``sessions`` that name no other user
        (session ids come from clients: one must not reach another shopper's searches)."""

    @abstractmethod
    def enforce_retention(self, now: float | None = None) -> tuple[int, int]:
        """Drop user/session ids older than ``anonymize_after_s`` and records older than
        ``retention_s``. Returns ``(anonymized, deleted)``."""

    def close(self) -> None:  # noqa: B027 - optional hook: a backend may hold nothing to release
        pass


def _seconds(days: float | None) -> float | None:
    return None if days is None else days * 86400.0


class SQLiteImpressionLog(ImpressionLog):
    """Impressions in one SQLite file; safe for threads and for several processes on one host."""

    def __init__(self, path: Path, anonymize_after_s: float | None = 30 * 86400.0,
                 retention_s: float | None = 365 * 86400.0, auto_retention: bool = True):
        self.path = Path(path)
        self.anonymize_after_s = anonymize_after_s
        self.retention_s = retention_s
        self._conn = connect_wal(self.path, "NORMAL")
        self._lock = threading.Lock()
        # Appends also enforce retention, hourly (False: only when enforce_retention is called).
        self._retention_at = 0.0 if auto_retention else float("inf")
        with self._lock:
            self._conn.executescript("""
                CREATE TABLE IF NOT EXISTS impressions (
                    search_id TEXT PRIMARY KEY, ts REAL NOT NULL, kind TEXT NOT NULL, products TEXT NOT NULL,
                    query TEXT, user_id TEXT, session_id TEXT, filters TEXT, sort TEXT, ranker TEXT,
                    experiment TEXT, arm TEXT, teams TEXT, candidates INTEGER, latency_ms REAL,
                    personalized INTEGER) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS impressions_ts ON impressions(ts);
                CREATE INDEX IF NOT EXISTS impressions_user ON impressions(user_id);
                CREATE INDEX IF NOT EXISTS impressions_session ON impressions(session_id);
            """)

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteImpressionLog:
        return cls(settings.impressions_path, _seconds(settings.impression_anonymize_days),
                   _seconds(settings.impression_retention_days))

    def extend(self, imps: Iterable[Impression]) -> int:
        rows = [_row(i) for i in imps]
        if not rows:
            return 0
        sql = f"INSERT OR REPLACE INTO impressions ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")  # one transaction (the connection autocommits otherwise)
            try:
                self._conn.executemany(sql, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        now = time.time()
        if now - self._retention_at > RETENTION_EVERY_S:
            self._retention_at = now
            # Off the request path: a day's worth of updates can take a while.
            threading.Thread(target=self._retention_quietly, args=(now,), daemon=True).start()
        return len(rows)

    def get(self, search_id: str) -> Impression | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {', '.join(_COLUMNS)} FROM impressions WHERE search_id = ?",
                                     (search_id,)).fetchone()
        return _impression(row) if row is not None else None

    def scan(self, since: float | None = None, until: float | None = None) -> Iterator[Impression]:
        # Read a page at a time, keyed by (ts, search_id): a slow consumer holds no lock.
        lo = -1.0 if since is None else since
        hi = float("inf") if until is None else until
        last_ts, last_id = lo, ""
        first = True
        while True:
            with self._lock:
                rows = self._conn.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM impressions WHERE ts < ? AND "
                    + ("ts >= ?" if first else "(ts > ? OR (ts = ? AND search_id > ?))")
                    + " ORDER BY ts, search_id LIMIT ?",
                    (hi, lo, SCAN_PAGE) if first else (hi, last_ts, last_ts, last_id, SCAN_PAGE)).fetchall()
            for row in rows:
                yield _impression(row)
            if len(rows) < SCAN_PAGE:
                return
            first = False
            last_ts, last_id = rows[-1][1], rows[-1][0]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM impressions").fetchone()[0])

    def sessions_of(self, user_id: str) -> set[str]:
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT session_id FROM impressions WHERE user_id = ? AND "
                                      "session_id IS NOT NULL", (user_id,)).fetchall()
        return {r[0] for r in rows}

    def forget(self, user_id: str, sessions: Iterable[str] = ()) -> int:
        with self._lock:
            return delete_user_rows(self._conn, "impressions", user_id, sorted(set(sessions) - {user_id}))

    def _retention_quietly(self, now: float) -> None:
        try:
            self.enforce_retention(now)
        except sqlite3.Error as e:  # closed meanwhile, or busy: the next hour tries again
            log.warning("impressions: retention not enforced: %s", e)

    def enforce_retention(self, now: float | None = None) -> tuple[int, int]:
        """As :meth:`ImpressionLog.enforce_retention`, in batches of ``RETENTION_BATCH`` rows,
        letting searches write between them."""
        now = time.time() if now is None else now
        self._retention_at = now
        deleted = anonymized = 0
        if self.retention_s is not None:
            deleted = self._in_batches("DELETE FROM impressions WHERE search_id IN (SELECT search_id FROM "
                                       "impressions WHERE ts < ? LIMIT ?)", now - self.retention_s)
        if self.anonymize_after_s is not None:
            anonymized = self._in_batches(
                "UPDATE impressions SET user_id = NULL, session_id = NULL WHERE search_id IN (SELECT search_id "
                "FROM impressions WHERE ts < ? AND (user_id IS NOT NULL OR session_id IS NOT NULL) LIMIT ?)",
                now - self.anonymize_after_s)
        if anonymized or deleted:
            log.info("impressions: %d anonymized, %d deleted by retention", anonymized, deleted)
        return anonymized, deleted

    def _in_batches(self, sql: str, before: float) -> int:
        total = 0
        while True:
            with self._lock:
                n = self._conn.execute(sql, (before, RETENTION_BATCH)).rowcount  # autocommit: one batch
            total += n
            if n < RETENTION_BATCH:
                return total

    def close(self) -> None:
        with self._lock:
            self._conn.close()


IMPRESSION_LOGS: Registry[ImpressionLog] = Registry("impression log")
IMPRESSION_LOGS.register("sqlite", SQLiteImpressionLog)
