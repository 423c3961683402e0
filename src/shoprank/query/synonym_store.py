"""Where an index's synonym sets are kept, so every process serving it reads the same ones.

A set is multi-way (``{"terms": ["rucksack", "backpack", "knapsack"]}``: each term stands for
the others) or one-way (``{"input": "tee", "terms": ["t-shirt"]}``: "tee" also searches
"t-shirt", not the other way round); terms may be in any language. :class:`SynonymStore` is
the interface; :class:`SQLiteSynonymStore` (``<index>/synonyms.sqlite``) is registered as
``sqlite`` in :data:`SYNONYM_STORES` and chosen by ``Settings.synonym_store``
(``factory.synonym_store``). An engine serving artifacts without an index folder keeps its
sets in memory (:class:`MemorySynonymStore`).

What a backend (a Redis hash, a Postgres table) must guarantee:

- **Cheap reads.** ``sets`` runs in every search: it answers from memory and looks at the
  shared version at most once per ``recheck_s`` (a second), re-reading the sets only when it
  changed. Another process's edit is seen within about a second; this handle's own at once.
- **Atomic, durable edits.** ``put``, ``delete`` and ``put_many`` commit whole (a reader sees
  all of an import or none of it) and survive a restart; each bumps the version.
- **Idempotency.** Putting the same set under the same id again changes nothing visible.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.config import Settings

SYNONYMS_DB = "synonyms.sqlite"
RECHECK_S = 1.0  # how stale another process's edit may be when a search reads the sets
MAX_TERMS = 32
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

Term = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def normalize_term(term: str) -> str:
    """How terms are compared: lower case, single spaces."""
    return " ".join(term.lower().split())


_SCHEMA = """
CREATE TABLE IF NOT EXISTS synonyms (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS version (one INTEGER PRIMARY KEY CHECK (one = 1), n INTEGER NOT NULL);
INSERT OR IGNORE INTO version VALUES (1, 0);
"""

class SynonymSet(BaseModel):
    """One synonym set: multi-way without ``input``, one-way (``input`` → ``terms``) with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: list[Term]
    input: Term | None = None

    @model_validator(mode="after")
    def _meaningful(self) -> SynonymSet:
        distinct = {normalize_term(t) for t in self.terms}
        if len(self.terms) > MAX_TERMS:
            raise ValueError(f"at most {MAX_TERMS} terms in a set")
        if self.input is None and len(distinct) < 2:
            raise ValueError("a multi-way set needs at least two different terms")
        if self.input is not None and not distinct - {normalize_term(self.input)}:
            raise ValueError("a one-way set needs a term other than its input")
        return self

    @property
    def triggers(self) -> list[str]:
        """The terms that, found in a query, bring in the others."""
        return [self.input] if self.input is not None else list(self.terms)

    def describe(self) -> str:
        """For explanations and listings: ``rucksack = backpack`` or ``tee → t-shirt``."""
        if self.input is not None:
            return f"{self.input} → {', '.join(self.terms)}"
        return " = ".join(self.terms)


@dataclass(frozen=True)
class Synonyms:
    """The sets as of one version (readers compile them once per version)."""

    version: int = 0
    sets: Mapping[str, SynonymSet] = field(default_factory=dict)


def check_id(sid: str) -> str:
    if not re.fullmatch(ID_PATTERN, sid):
        raise ValueError(f"synonym set id {sid!r}: 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                         "or digit")
    return sid


def set_id(s: SynonymSet) -> str:
    """An id made from a set's content, so importing the same file twice adds nothing."""
    import hashlib

    terms = sorted(normalize_term(t) for t in s.terms)
    key = "\x1f".join([normalize_term(s.input or ""), *terms])
    slug = re.sub(r"[^a-z0-9]+", "-", normalize_term(s.input or terms[0])).strip("-")[:40] or "set"
    return f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def parse_synonym_lines(text: str) -> tuple[dict[str, SynonymSet], list[str]]:
    """Sets from lines of ``a, b, c`` (multi-way) or ``tee => t-shirt, tshirt`` (one-way); blank
    lines and ``#`` comments are skipped. Returns the sets by :func:`set_id` and one error per bad line."""
    sets: dict[str, SynonymSet] = {}
    errors: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        head, arrow, tail = line.partition("=>")
        try:
            if arrow:
                s = SynonymSet(input=head.strip(), terms=[t for t in tail.split(",") if t.strip()])
            else:
                s = SynonymSet(terms=[t for t in line.split(",") if t.strip()])
        except ValidationError as e:
            errors.append(f"line {n}: " + "; ".join(err["msg"].removeprefix("Value error, ") for err in e.errors()))
            continue
        sets[set_id(s)] = s
    return sets, errors


class SynonymStore(ABC):
    """The synonym sets of one index, shared by the processes serving it."""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings, index_root: Path) -> SynonymStore:
        """The store of the index at ``index_root`` (created on the first edit)."""

    @abstractmethod
    def sets(self) -> Synonyms:
        """The current sets; cheap enough to call in every search."""

    @abstractmethod
    def put_many(self, sets: Mapping[str, SynonymSet], replace_all: bool = False) -> None:
        """Add or replace ``sets`` by id in one commit (``replace_all``: and delete every other)."""

    @abstractmethod
    def delete(self, sid: str) -> bool:
        """Delete the set ``sid``; False when there was none."""

    def put(self, sid: str, synonym_set: SynonymSet) -> bool:
        """Add or replace the set ``sid``; True when it is new."""
        created = sid not in self.sets().sets
        self.put_many({check_id(sid): synonym_set})
        return created

    def close(self) -> None:  # noqa: B027 - optional hook: a backend may hold nothing to release
        pass


class MemorySynonymStore(SynonymStore):
    """Sets kept by this engine alone (artifacts served without an index folder): not durable."""

    @classmethod
    def from_settings(cls, settings: Settings, index_root: Path) -> MemorySynonymStore:
        return cls()

    def __init__(self) -> None:
        self._current = Synonyms()
        self._lock = threading.Lock()

    def sets(self) -> Synonyms:
        return self._current

    def put_many(self, sets: Mapping[str, SynonymSet], replace_all: bool = False) -> None:
        with self._lock:
            new = {} if replace_all else dict(self._current.sets)
            new.update({check_id(k): v for k, v in sets.items()})
            self._current = Synonyms(self._current.version + 1, new)

    def delete(self, sid: str) -> bool:
        with self._lock:
            if sid not in self._current.sets:
                return False
            new = {k: v for k, v in self._current.sets.items() if k != sid}
            self._current = Synonyms(self._current.version + 1, new)
            return True


class SQLiteSynonymStore(SynonymStore):
    """The sets in one SQLite file (WAL) beside the index's generations, with a version row
    every edit bumps in its own transaction: readers poll that one row."""

    @classmethod
    def from_settings(cls, settings: Settings, index_root: Path) -> SQLiteSynonymStore:
        return cls(Path(index_root) / SYNONYMS_DB)

    def __init__(self, path: Path, recheck_s: float = RECHECK_S):
        self.path = Path(path)
        self.recheck_s = recheck_s
        self._conn: sqlite3.Connection | None = None
        self._current = Synonyms()
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection:
        """The connection, opened (and the file created) on first use: opening an index creates nothing."""
        if self._conn is None:
            from shoprank.sqlitedb import connect_wal

            self._conn = connect_wal(self.path, "FULL", _SCHEMA)
        return self._conn

    def sets(self) -> Synonyms:
        now = time.monotonic()
        if now - self._checked < self.recheck_s:
            return self._current
        with self._lock:
            self._checked = now
            if self._conn is None and not self.path.is_file():
                return self._current  # nothing was ever stored
            db = self._db()
            version = int(db.execute("SELECT n FROM version").fetchone()[0])
            if version != self._current.version:
                self._current = self._read(db, version)
            return self._current

    @staticmethod
    def _read(db: sqlite3.Connection, version: int) -> Synonyms:
        rows = db.execute("SELECT id, body FROM synonyms ORDER BY id").fetchall()
        return Synonyms(version, {sid: SynonymSet.model_validate_json(body) for sid, body in rows})

    def _edit(self, statements: list[tuple[str, tuple[str, ...]]]) -> int:
        """Run ``statements`` and bump the version in one transaction; re-read the sets; rows changed."""
        with self._lock:
            from shoprank.sqlitedb import write_transaction

            with write_transaction(self._db()) as db:
                changed = sum(db.execute(sql, args).rowcount for sql, args in statements)
                db.execute("UPDATE version SET n = n + 1")
                version = int(db.execute("SELECT n FROM version").fetchone()[0])
                current = self._read(db, version)
            self._current, self._checked = current, time.monotonic()  # only what was committed
            return changed

    def put_many(self, sets: Mapping[str, SynonymSet], replace_all: bool = False) -> None:
        statements: list[tuple[str, tuple[str, ...]]] = [("DELETE FROM synonyms", ())] if replace_all else []
        statements += [("INSERT OR REPLACE INTO synonyms VALUES (?, ?)", (check_id(sid), s.model_dump_json()))
                       for sid, s in sets.items()]
        self._edit(statements)

    def delete(self, sid: str) -> bool:
        return self._edit([("DELETE FROM synonyms WHERE id = ?", (sid,))]) > 0

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


SYNONYM_STORES: Registry[SynonymStore] = Registry("synonym store")
SYNONYM_STORES.register("sqlite", SQLiteSynonymStore)

__all__ = ["SYNONYM_STORES", "MemorySynonymStore", "SQLiteSynonymStore", "SynonymSet", "SynonymStore", "Synonyms",
           "normalize_term", "parse_synonym_lines", "set_id"]
