"""A new store backend is one file: an event log kept in a dict, registered here, passes the
contract suite, and naming it in Settings is all it takes for the factory (and the engine) to use it."""
from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from fakes import tiny_catalog
from shoprank import factory
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.personalization.backends import EVENT_LOGS
from shoprank.personalization.store.base import EventLog, StoredEvent
from shoprank.types import Event
from stores.event_log_contract import EventLogContract


@dataclass
class _Server:
    """What a network store would hold: shared by every handle that connects to it."""

    events: dict[int, StoredEvent] = field(default_factory=dict)
    seqs: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    log_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    lock: threading.Lock = field(default_factory=threading.Lock)


_SERVERS: dict[str, _Server] = {}


class DictEventLog(EventLog):
    @classmethod
    def from_settings(cls, settings: Settings) -> DictEventLog:
        return cls(_SERVERS.setdefault(str(settings.events_path), _Server()))

    def __init__(self, server: _Server):
        self._s = server

    def append(self, events: Sequence[Event], now: float) -> list[StoredEvent]:
        out = []
        with self._s.lock:  # one writer at a time: seqs are handed out in commit order
            for e in events:
                before = next((se for se in self._s.events.values() if e.event_id is not None and
                               (se.event.event_id, se.event.user_id, se.event.session_id) ==
                               (e.event_id, e.user_id, e.session_id)), None)
                if before is not None:
                    out.append(replace(before, duplicate=True))
                    continue
                se = StoredEvent(next(self._s.seqs), e, e.ts if e.ts is not None else now)
                self._s.events[se.seq] = se
                out.append(se)
        return out

    def _select(self, owner: str | None) -> list[StoredEvent]:
        with self._s.lock:
            return [se for se in self._s.events.values() if owner is None or owner in (se.event.user_id,
                                                                                       se.event.session_id)]

    def scan(self, owner: str | None = None, after_seq: int = 0,
             until_seq: int | None = None) -> Iterator[StoredEvent]:
        until = until_seq if until_seq is not None else float("inf")
        return iter([se for se in self._select(owner) if after_seq < se.seq <= until])

    def count(self, owner: str | None = None) -> int:
        return len(self._select(owner))

    def sessions_of(self, user_id: str) -> set[str]:
        return {se.event.session_id for se in self._select(user_id)
                if se.event.user_id == user_id and se.event.session_id is not None}

    def _delete(self, doomed: Iterable[StoredEvent]) -> int:
        with self._s.lock:
            return sum(self._s.events.pop(se.seq, None) is not None for se in list(doomed))

    def delete_owner(self, owner: str) -> int:
        return self._delete(self._select(owner))

    def delete_user(self, user_id: str, sessions: Iterable[str] = ()) -> int:
        anonymous = set(sessions) - {user_id}
        return self._delete(se for se in self._select(None) if se.event.user_id == user_id
                            or (se.event.user_id is None and se.event.session_id in anonymous))

    def has_user(self, user_id: str) -> bool:
        return any(se.event.user_id == user_id for se in self._select(user_id))

    def log_id(self) -> str:
        return self._s.log_id


EVENT_LOGS.register("dict", DictEventLog)


class TestDictEventLog(EventLogContract):
    settings_overrides = {"event_store": "dict"}

    def make_store(self):
        return factory.event_log(self.settings)


def test_naming_it_in_settings_is_all_the_engine_needs(tmp_path):
    s = Settings(home=tmp_path / "home", text_encoder="hashing", image_encoder="palette", profile_store="memory",
                 event_store="dict")
    assert isinstance(factory.event_log(s), DictEventLog)
    engine = ShopRank.build(tiny_catalog(tmp_path / "cat"), s.index_dir("tiny"), s)
    engine.personalizer.record([Event(user_id="ann", product_id="mug-red", type="click")])
    assert isinstance(engine.personalizer.events, DictEventLog)
    assert [se.event.product_id for se in factory.event_log(s).scan("ann")] == ["mug-red"]
    assert engine.personalizer.profile("ann").n_events == 1
