"""SQLite as every local store uses it: WAL, explicit transactions, and a privacy delete."""
from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Writers from other processes wait this long for the file lock instead of failing at once.
BUSY_TIMEOUT_MS = 5000


# Connections being set up in this process, one at a time: several opening a new file at once
# can deadlock on its first schema write, and SQLite then answers "locked" without waiting.
_SETUP = threading.Lock()
SETUP_TRIES = 5


def connect_wal(path: Path, synchronous: str, schema: str | None = None) -> sqlite3.Connection:
    """A WAL connection to ``path``, with ``schema`` (idempotent DDL) applied."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _SETUP:
        for attempt in range(SETUP_TRIES):
            try:
                return _setup(path, synchronous, schema)
            except sqlite3.OperationalError as e:  # another process setting the file up at once
                if "locked" not in str(e) or attempt == SETUP_TRIES - 1:
                    raise
                time.sleep(0.05 * 2 ** attempt)
    raise AssertionError("unreachable")


def _setup(path: Path, synchronous: str, schema: str | None) -> sqlite3.Connection:
    # isolation_level=None: autocommit, transactions are opened explicitly (BEGIN IMMEDIATE).
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    try:
        # busy_timeout first: switching to WAL itself needs a lock another process may hold.
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{path}: could not switch SQLite to WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        if schema:
            conn.executescript(schema)
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE: one writer at a time), committed when the block
    ends and rolled back when it raises. The caller holds the connection's lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def delete_user_rows(conn: sqlite3.Connection, table: str, user_id: str, sessions: Iterable[str]) -> int:
    """In one transaction, delete ``table``'s rows of ``user_id`` and the rows of ``sessions``
    that name no user (a session id is whatever a client sent: it must not reach another
    user's rows). The caller holds the connection's lock."""
    with write_transaction(conn):
        n = conn.execute(f"DELETE FROM {table} WHERE user_id = ?", (user_id,)).rowcount
        for sid in sessions:
            n += conn.execute(f"DELETE FROM {table} WHERE session_id = ? AND user_id IS NULL", (sid,)).rowcount
    return int(n)
