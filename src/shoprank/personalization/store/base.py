"""Where events and profiles live. One interface per role; backends in sibling modules.

- :class:`EventLog` is the durable record of what shoppers did. ``append`` returns only
  after the events are on disk, so an acknowledged event survives a crash.
- :class:`ProfileStore` holds the online profiles that search reads. Profiles can always
  be rebuilt from the event log, so a store may trade durability for speed (Redis).

Backends are registered by name in :mod:`shoprank.personalization.backends` (``EVENT_LOGS``,
``PROFILE_STORES``) and chosen by ``Settings.event_store`` / ``Settings.profile_store``.
What a new event log (Redis streams, Postgres) must guarantee, because profiles are folded
from it by sequence number and collaborative models are fitted on it:

- **Ordering.** Sequence numbers increase in commit order: once ``append`` has returned seq
  ``n``, every event with a lower seq is committed and visible to ``scan`` (Postgres: number
  events under one lock, not with a bare SEQUENCE, whose numbers commit out of order). Seqs
  are never reused, after deletes or restarts either.
- **Durability and atomicity.** When ``append`` returns, its events are committed together and
  survive the process and the host (fsync or synchronous replication).
- **Idempotency.** An ``event_id`` its owner already logged is not stored again; the earlier
  event comes back marked ``duplicate``, also when two processes append it at once.
- **Deletion.** ``delete_user`` removes a user's events and their sessions' anonymous ones in one
  step, never an event naming another user.
- **Identity.** ``log_id`` names the log itself and stays the same for as long as the log holds
  its events, so a saved fit is never taken for another log's (a store under another home, a
  log deleted and started afresh).
- **Sharing.** Threads and processes append at once; ``scan`` pages without holding a lock
  while the caller consumes.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoprank.personalization.profile import Profile
from shoprank.types import Event

if TYPE_CHECKING:
    from shoprank.config import Settings


class StoreUnavailable(RuntimeError):
    """A store cannot be reached now (down, frozen, timed out). Profiles can be rebuilt from the
    event log, so callers degrade (search unpersonalized, fold later) instead of failing."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as logged: its sequence number and the time it was recorded."""

    seq: int
    event: Event
    ts: float  # the event's own ts, or the recording time when it had none
    duplicate: bool = False  # its event_id was logged before: this is that event, not a new one


class EventLog(ABC):
    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> EventLog:
        """The log as ``settings`` configure it, created when missing."""

    @abstractmethod
    def append(self, events: Sequence[Event], now: float) -> list[StoredEvent]:
        """Store ``events`` durably (events without ``ts`` get ``now``); return them as stored.

        An event whose ``event_id`` its owner already logged is not stored again: the earlier
        one is returned, marked ``duplicate`` (a client's retry does not count twice)."""

    @abstractmethod
    def scan(self, owner: str | None = None, after_seq: int = 0,
             until_seq: int | None = None) -> Iterator[StoredEvent]:
        """Events with ``after_seq < seq <= until_seq`` in sequence order; only those naming
        ``owner`` (as user or session id) when given.

        Sequence numbers are handed out in commit order: once ``append`` has returned seq
        ``n``, every event with a lower seq is committed too (the folding relies on it)."""

    @abstractmethod
    def count(self, owner: str | None = None) -> int: ...

    @abstractmethod
    def sessions_of(self, user_id: str) -> set[str]:
        """Session ids that appeared together with ``user_id`` (they hold the user's data too)."""

    @abstractmethod
    def delete_owner(self, owner: str) -> int:
        """Remove every event whose user_id or session_id is ``owner``; return how many."""

    @abstractmethod
    def delete_user(self, user_id: str, sessions: Iterable[str] = ()) -> int:
        """Remove the user's events, and the events of ``sessions`` that name no other user
        (a session id is free text: it must not reach another shopper's events); return how many."""

    @abstractmethod
    def has_user(self, user_id: str) -> bool:
        """Whether any event names ``user_id`` as its user."""

    @abstractmethod
    def log_id(self) -> str:
        """A random id given to the log when it was created, the same in every process."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing to release
        pass


class ProfileStore(ABC):
    @classmethod
    def from_settings(cls, settings: Settings) -> ProfileStore:
        """The store as ``settings`` configure it (a backend overrides what it needs)."""
        return cls()

    @abstractmethod
    def get(self, owner: str) -> Profile | None:
        """``owner``'s profile, or None; :class:`StoreUnavailable` when the store cannot answer."""

    @abstractmethod
    def update(self, owner: str, fn: Callable[[Profile | None], Profile]) -> Profile:
        """Atomically replace ``owner``'s profile by ``fn(current)`` and return it.

        Atomic across threads and, for shared backends, across processes: two concurrent
        updates of one owner never lose each other's events."""

    @abstractmethod
    def delete(self, owner: str) -> bool:
        """Forget ``owner``'s profile; True if there was one."""

    def close(self) -> None:  # noqa: B027 - optional hook: most backends hold nothing to release
        pass
