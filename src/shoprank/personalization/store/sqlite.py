"""SQLite backends: the durable event log, a single-process profile store, and an in-memory one.

The event log is the system of record, so every ``append`` is one fsynced transaction
(WAL + ``synchronous=FULL``). Profiles can be rebuilt from the log, so the profile store
uses the cheaper ``synchronous=NORMAL`` (a power cut may lose the last few updates, never
corrupt the file).
"""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoprank.personalization.profile import Profile
from shoprank.personalization.store.base import EventLog, ProfileStore, StoredEvent
from shoprank.sqlitedb import connect_wal, delete_user_rows
from shoprank.types import Event

if TYPE_CHECKING:
    from shoprank.config import Settings

log = logging.getLogger(__name__)

SCAN_PAGE = 10_000
N_LOCK_STRIPES = 64


_COLS = "seq, user_id, session_id, product_id, type, query, ts, recorded, search_id, position, event_id"


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    seq, user_id, session_id, product_id, etype, query, ts, recorded, search_id, position, event_id = row
    # Rows were validated on the way in; skipping validation makes full rebuilds cheap.
    ev = Event.model_construct(user_id=user_id, session_id=session_id, product_id=product_id, type=etype,
                               query=query, ts=ts, search_id=search_id, position=position, event_id=event_id)
    return StoredEvent(seq=seq, event=ev, ts=ts if ts is not None else recorded)


class SQLiteEventLog(EventLog):
    """Append-only event log in one SQLite file, safe for threads and for several processes.

    Each ``append`` is a single ``BEGIN IMMEDIATE`` transaction committed with
    ``synchronous=FULL``, so once it returns the events survive SIGKILL and power loss.
    Several processes on one host may open the same file (WAL mode; not on a network file
    system); a writer waits up to ``BUSY_TIMEOUT_MS`` for another's transaction.

    The ``ts`` column holds the event's own timestamp (NULL when it had none) and
    ``recorded`` the time it was appended, so :meth:`scan` gives back exactly the
    events that were appended; :attr:`StoredEvent.ts` is ``ts`` or else ``recorded``.
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteEventLog:
        settings.events_path.parent.mkdir(parents=True, exist_ok=True)
        return cls(settings.events_path)

    def __init__(self, path: Path):
        self.path = Path(path)
        self._conn = connect_wal(self.path, "FULL")
        # One connection shared by the thread pool: the lock serialises its use.
        self._lock = threading.Lock()
        self._log_id: str | None = None
        with self._lock:
            self._conn.executescript("""
                CREATE TABLE IF NOT EXISTS events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    user_id TEXT, session_id TEXT, product_id TEXT NOT NULL, type TEXT NOT NULL,
                    query TEXT, ts REAL, recorded REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS events_user ON events(user_id);
                CREATE INDEX IF NOT EXISTS events_session ON events(session_id);
            """)
            have = {r[1] for r in self._conn.execute("PRAGMA table_info(events)")}
            for col, kind in (("search_id", "TEXT"), ("position", "INTEGER"), ("event_id", "TEXT")):
                if col not in have:  # a log written before events named their search, or had ids
                    self._conn.execute(f"ALTER TABLE events ADD COLUMN {col} {kind}")
            self._conn.execute("CREATE INDEX IF NOT EXISTS events_search ON events(search_id)")
            self._conn.execute("CREATE INDEX IF NOT EXISTS events_client_id ON events(event_id)"
                               " WHERE event_id IS NOT NULL")

    def append(self, events: Sequence[Event], now: float) -> list[StoredEvent]:
        if not events:
            return []
        out: list[StoredEvent] = []
        with self._lock:
            # IMMEDIATE takes the write lock up front (waiting on busy_timeout), so the
            # transaction never has to upgrade from a read lock and fail with SQLITE_BUSY.
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                # Under the write lock, so another process cannot log the same id in between.
                seen: dict[tuple[str, str | None, str | None], StoredEvent] = {}
                for e in events:
                    key = (e.event_id, e.user_id, e.session_id) if e.event_id is not None else None
                    if key is not None and (before := seen.get(key) or self._logged(*key)) is not None:
                        out.append(StoredEvent(before.seq, before.event, before.ts, duplicate=True))
                        continue
                    cur = self._conn.execute(
                        "INSERT INTO events (user_id, session_id, product_id, type, query, ts, recorded,"
                        " search_id, position, event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (e.user_id, e.session_id, e.product_id, e.type, e.query, e.ts, now, e.search_id,
                         e.position, e.event_id))
                    stored = StoredEvent(seq=int(cur.lastrowid or 0), event=e, ts=e.ts if e.ts is not None else now)
                    out.append(stored)
                    if key is not None:
                        seen[key] = stored
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # some errors already rolled it back
                    self._conn.execute("ROLLBACK")
                raise
        return out

    def _logged(self, event_id: str, user_id: str | None, session_id: str | None) -> StoredEvent | None:
        """The event this owner logged under ``event_id``, if any. Call with the lock held."""
        row = self._conn.execute(f"SELECT {_COLS} FROM events WHERE event_id = ? AND user_id IS ? AND session_id IS ?"
                                 " ORDER BY seq LIMIT 1", (event_id, user_id, session_id)).fetchone()
        return _stored(row) if row is not None else None

    def scan(self, owner: str | None = None, after_seq: int = 0,
             until_seq: int | None = None) -> Iterator[StoredEvent]:
        cols = _COLS
        # One writer at a time (BEGIN IMMEDIATE) and AUTOINCREMENT: seqs are committed in order.
        until = (1 << 63) - 1 if until_seq is None else until_seq
        args: tuple[str, ...]
        if owner is None:
            sql, args = f"SELECT {cols} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?", ()
        else:
            sql = (f"SELECT {cols} FROM events WHERE (user_id = ? OR session_id = ?) AND seq > ? AND seq <= ?"
                   " ORDER BY seq LIMIT ?")
            args = (owner, owner)
        last = after_seq
        while True:
            # Fetch a page under the lock, hand it out without: a slow consumer blocks nobody.
            with self._lock:
                rows = self._conn.execute(sql, (*args, last, until, SCAN_PAGE)).fetchall()
            for row in rows:
                yield _stored(row)
            if len(rows) < SCAN_PAGE:
                return
            last = rows[-1][0]

    def count(self, owner: str | None = None) -> int:
        with self._lock:
            if owner is None:
                row = self._conn.execute("SELECT COUNT(*) FROM events").fetchone()
            else:
                row = self._conn.execute("SELECT COUNT(*) FROM events WHERE user_id = ? OR session_id = ?",
                                         (owner, owner)).fetchone()
        return int(row[0])

    def sessions_of(self, user_id: str) -> set[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT DISTINCT session_id FROM events WHERE user_id = ? AND session_id IS NOT NULL",
                (user_id,)).fetchall()
        return {r[0] for r in rows}

    def delete_owner(self, owner: str) -> int:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                n = self._conn.execute("DELETE FROM events WHERE user_id = ? OR session_id = ?",
                                       (owner, owner)).rowcount
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # some errors already rolled it back
                    self._conn.execute("ROLLBACK")
                raise
        log.info("deleted %d events of %s", n, owner)
        return int(n)

    def delete_user(self, user_id: str, sessions: Iterable[str] = ()) -> int:
        sessions = sorted(set(sessions) - {user_id})
        with self._lock:
            n = delete_user_rows(self._conn, "events", user_id, sessions)
        log.info("deleted %d events of %s and %d sessions", n, user_id, len(sessions))
        return n

    def has_user(self, user_id: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM events WHERE user_id = ? LIMIT 1", (user_id,)).fetchone() \
                is not None

    def log_id(self) -> str:
        if self._log_id is None:
            with self._lock:
                # Made by whichever process asks first; OR IGNORE keeps the first one's.
                self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
                self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('log_id', ?)", (uuid.uuid4().hex,))
                self._log_id = str(self._conn.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()[0])
        return self._log_id

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class _StripedLocks:
    """A fixed set of locks picked by hashing the owner: updates of different owners rarely wait."""

    def __init__(self, n: int = N_LOCK_STRIPES):
        self._locks = [threading.Lock() for _ in range(n)]

    def __call__(self, owner: str) -> threading.Lock:
        return self._locks[hash(owner) % len(self._locks)]


class MemoryProfileStore(ProfileStore):
    """Profiles in a dict, nothing persisted: for tests and simulations.

    ``get`` returns a copy and ``fn`` in :meth:`update` gets a copy, so callers may mutate
    what they hold (``Profile.decay_to`` does) without touching the stored profile.
    """

    def __init__(self) -> None:
        self._data: dict[str, Profile] = {}
        self._lock = threading.Lock()

    def get(self, owner: str) -> Profile | None:
        with self._lock:
            p = self._data.get(owner)
        return Profile.copy(p) if p is not None else None

    def update(self, owner: str, fn: Callable[[Profile | None], Profile]) -> Profile:
        with self._lock:
            cur = self._data.get(owner)
            new = fn(Profile.copy(cur) if cur is not None else None)
            self._data[owner] = Profile.copy(new)
        return new

    def delete(self, owner: str) -> bool:
        with self._lock:
            return self._data.pop(owner, None) is not None


class SQLiteProfileStore(ProfileStore):
    """Profiles in a SQLite file behind a write-through in-process cache.

    ``update`` is atomic across the threads of one process (a lock per owner stripe) and
    persists before it returns. Reads see other processes' writes (the cache is dropped when
    the file changed), but two processes updating one owner at the same moment can still
    overwrite each other. Use :class:`~shoprank.personalization.store.redis.RedisProfileStore` when
    several API processes share profiles.

    Written with ``synchronous=NORMAL``: profiles can be rebuilt from the event log, so
    losing the last updates to a power cut is acceptable. ``cache_size`` bounds the
    cache (oldest-inserted entries are dropped first).
    """

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteProfileStore:
        ev = settings.events_path
        return cls(ev.with_name(ev.stem + "-profiles.sqlite"))

    def __init__(self, path: Path, cache_size: int = 100_000):
        self.path = Path(path)
        self._conn = connect_wal(self.path, "NORMAL")
        self._db_lock = threading.Lock()  # guards the shared connection
        self._owner_lock = _StripedLocks()  # makes read-modify-write of one owner atomic
        self._cache: dict[str, Profile] = {}
        self._cache_lock = threading.Lock()  # guards eviction against concurrent inserts
        self._cache_size = cache_size
        self._data_version = -1
        with self._db_lock:
            self._conn.execute("CREATE TABLE IF NOT EXISTS profiles (owner TEXT PRIMARY KEY, data BLOB NOT NULL)")

    def _drop_stale_cache(self) -> None:
        """Empty the cache when another connection (another process) committed to the file since
        we last looked: SQLite's data_version changes only for others' commits, and reading it
        costs no I/O. Without this a process served its cached copy, an event behind."""
        with self._db_lock:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._data_version:
            with self._cache_lock:
                self._cache.clear()
            self._data_version = version

    def _load(self, owner: str) -> Profile | None:
        """Current profile: the cache, else the file (caching it). Call with the owner's lock."""
        p = self._cache.get(owner)
        if p is None:
            with self._db_lock:
                row = self._conn.execute("SELECT data FROM profiles WHERE owner = ?", (owner,)).fetchone()
            if row is not None:
                p = Profile.from_bytes(row[0])
                self._remember(owner, p)
        return p

    def _remember(self, owner: str, p: Profile) -> None:
        with self._cache_lock:
            self._cache[owner] = p
            while len(self._cache) > self._cache_size:
                del self._cache[next(iter(self._cache))]

    def get(self, owner: str) -> Profile | None:
        self._drop_stale_cache()
        p = self._cache.get(owner)
        if p is None:
            # A miss fills the cache under the owner's lock, so it can't race an update
            # and put back a profile older than the one just written.
            with self._owner_lock(owner):
                p = self._load(owner)
        return Profile.copy(p) if p is not None else None

    def update(self, owner: str, fn: Callable[[Profile | None], Profile]) -> Profile:
        self._drop_stale_cache()
        with self._owner_lock(owner):
            cur = self._load(owner)
            new = fn(Profile.copy(cur) if cur is not None else None)
            data = new.to_bytes()
            with self._db_lock:
                self._conn.execute("INSERT INTO profiles (owner, data) VALUES (?, ?)"
                                   " ON CONFLICT(owner) DO UPDATE SET data = excluded.data", (owner, data))
            self._remember(owner, Profile.copy(new))
        return new

    def delete(self, owner: str) -> bool:
        with self._owner_lock(owner):
            with self._db_lock:
                n = self._conn.execute("DELETE FROM profiles WHERE owner = ?", (owner,)).rowcount
            with self._cache_lock:
                self._cache.pop(owner, None)
        return n > 0

    def close(self) -> None:
        with self._db_lock:
            self._conn.close()
        self._cache.clear()
