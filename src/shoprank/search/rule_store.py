"""Where merchandising rules are kept, so every process serving the home applies the same ones.

:class:`RuleStore` is the interface; :class:`SQLiteRuleStore` (``<home>/rules.sqlite``, or
``Settings.rules_db``) is registered as ``sqlite`` in :data:`RULE_STORES` and chosen by
``Settings.rule_store`` (``factory.rule_store``).

What another backend (a Redis hash, a Postgres table) must guarantee:

- **Cheap reads.** ``rules`` runs in every search: it answers from memory and looks at the
  shared state at most once per ``recheck_s`` (a second), re-reading the rules only when a
  version counter moved. Another process's change is therefore applied within about a second;
  this process's own (any handle on the same storage) on its next search.
- **Atomic, durable writes.** ``put``, ``put_many`` and ``delete`` commit whole rules (a reader
  sees the old rule or the new one), ``put_many`` all or none, and what they wrote survives a
  restart. Writers in several processes at once lose nothing (each rule is its own row).
- **Robust reads.** A stored rule that no longer parses (written by a newer version, edited by
  hand) is logged and skipped; the others keep applying.
- **Lazy.** Opening a store creates nothing: a home with no rules has no rule file.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from shoprank.registry import Registry
from shoprank.search.merch_rule import MerchRule
from shoprank.sqlitedb import connect_wal, write_transaction

if TYPE_CHECKING:
    from shoprank.config import Settings

log = logging.getLogger(__name__)

RECHECK_S = 1.0  # how stale another process's change may be when a search reads the rules

# Writes made in this process, per storage: a handle that sees the count move re-reads at once.
_LOCAL_WRITES: dict[str, int] = {}
_LOCAL_LOCK = threading.Lock()


def _wrote(key: str) -> None:
    with _LOCAL_LOCK:
        _LOCAL_WRITES[key] = _LOCAL_WRITES.get(key, 0) + 1


class RuleStore(ABC):
    """Merchandising rules by id, shared by the processes serving one home."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> RuleStore:
        """The store as ``settings`` configure it; creates nothing until a write."""

    @abstractmethod
    def rules(self) -> dict[str, MerchRule]:
        """Every stored rule by id (do not modify); cheap enough to call in every search."""

    def get(self, rule_id: str) -> MerchRule | None:
        return self.rules().get(rule_id)

    @abstractmethod
    def put_many(self, rules: Mapping[str, MerchRule]) -> None:
        """Store ``rules`` (each replacing any rule of its id), all or none."""

    def put(self, rule_id: str, rule: MerchRule) -> None:
        self.put_many({rule_id: rule})

    @abstractmethod
    def delete(self, rule_id: str) -> bool:
        """Remove a rule; False if there was none of that id."""

    def close(self) -> None:  # noqa: B027 - optional hook: a backend may hold nothing to release
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, body TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('version', 0);
"""


class SQLiteRuleStore(RuleStore):
    """One row per rule and a version counter every write bumps; readers re-read on a new version."""

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteRuleStore:
        return cls(settings.rules_path)

    def __init__(self, path: Path, recheck_s: float = RECHECK_S):
        self.path = Path(path)
        self.recheck_s = recheck_s
        self._key = str(self.path.resolve())
        self._conn: sqlite3.Connection | None = None
        self._rules: dict[str, MerchRule] = {}
        self._version = -1  # the stored version read (-1: none yet)
        self._local = _LOCAL_WRITES.get(self._key, 0)
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def _connect(self, create: bool) -> sqlite3.Connection | None:
        if self._conn is None and (create or self.path.exists()):
            self._conn = connect_wal(self.path, "FULL", _SCHEMA)
        return self._conn

    def rules(self) -> dict[str, MerchRule]:
        now = time.monotonic()
        if now - self._checked < self.recheck_s and _LOCAL_WRITES.get(self._key, 0) == self._local:
            return self._rules
        with self._lock:
            self._local = _LOCAL_WRITES.get(self._key, 0)
            self._checked = now
            conn = self._connect(create=False)
            if conn is None:
                return self._rules
            version = int(conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
            if version != self._version:
                self._rules = self._read(conn)
                self._version = version
            return self._rules

    def _read(self, conn: sqlite3.Connection) -> dict[str, MerchRule]:
        out: dict[str, MerchRule] = {}
        for rule_id, body in conn.execute("SELECT id, body FROM rules ORDER BY id"):
            try:
                out[rule_id] = MerchRule.model_validate_json(body)
            except ValueError as e:  # keep applying the others
                log.error("%s: rule %r is not valid, skipped: %s", self.path, rule_id, e)
        return out

    def _write(self, statements: list[tuple[str, tuple[object, ...]]]) -> int:
        with self._lock:
            conn = self._connect(create=True)
            assert conn is not None
            with write_transaction(conn):
                changed = sum(conn.execute(sql, args).rowcount for sql, args in statements)
                conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'version'")
            _wrote(self._key)
            return changed

    def put_many(self, rules: Mapping[str, MerchRule]) -> None:
        now = time.time()
        self._write([("INSERT OR REPLACE INTO rules VALUES (?, ?, ?)", (rule_id, rule.model_dump_json(), now))
                     for rule_id, rule in rules.items()])

    def delete(self, rule_id: str) -> bool:
        return self._write([("DELETE FROM rules WHERE id = ?", (rule_id,))]) > 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


RULE_STORES: Registry[RuleStore] = Registry("rule store")
RULE_STORES.register("sqlite", SQLiteRuleStore)
