"""Exactly-once folding of logged events into profiles, whatever the interleaving; a poisoned
timeline (milliseconds, 0, far future) cannot break a profile's maths."""
from __future__ import annotations

import math
import sqlite3
import threading

import numpy as np
import pytest

from shoprank.personalization import online
from shoprank.personalization.online import Personalizer
from shoprank.personalization.profile import Profile, shares
from shoprank.personalization.queries import PastQueries
from shoprank.personalization.store.base import StoreUnavailable
from shoprank.personalization.store.sqlite import MemoryProfileStore, SQLiteEventLog, SQLiteProfileStore
from shoprank.types import Event, Query

NOW = 1_790_000_000.0


@pytest.fixture
def log(tmp_path):
    events = SQLiteEventLog(tmp_path / "events.sqlite")
    yield events
    events.close()


@pytest.fixture
def pers(fake_engine, log):
    return Personalizer(fake_engine.pipeline.extractor.signals, log, MemoryProfileStore())


def products(fake_engine, n: int = 6) -> list[str]:
    return [p.id for p in fake_engine.artifacts.catalog][:n]


def ev(user: str, pid: str, ts: float | None = NOW, kind: str = "click", **kw) -> Event:
    return Event(user_id=user, product_id=pid, type=kind, ts=ts, **kw)  # type: ignore[arg-type]


def test_an_event_whose_writer_died_before_folding_is_folded_by_the_next(pers, log, fake_engine):
    a, b, c = products(fake_engine, 3)
    pers.record([ev("u", a)])
    # A writer appended, then died before folding (the old catch-up then skipped it for good,
    # once a newer event of the same owner had been folded).
    log.append([ev("u", b)], now=NOW)
    pers.record([ev("u", c)])
    p = pers.profile("u")
    assert p is not None and p.n_events == 3 == log.count("u")
    assert [pid for pid, _, _ in p.recent] == [a, b, c]
    assert pers.catch_up() == 0  # nothing left to fold, nothing folded twice
    assert pers.profile("u").n_events == 3


def test_folding_out_of_order_folds_each_event_once(pers, log, fake_engine):
    a, b = products(fake_engine, 2)
    first, second = log.append([ev("u", a)], NOW) + log.append([ev("u", b)], NOW)
    # The thread that wrote the later event folds first; the earlier one arrives late.
    assert pers._fold_through("u", second.seq) == 2
    assert pers._fold_through("u", first.seq) == 0
    assert pers.profile("u").n_events == 2


def test_session_events_of_a_user_fold_into_the_user_only(pers, fake_engine):
    a, b = products(fake_engine, 2)
    pers.record([Event(user_id="v", session_id="s1", product_id=a, type="cart", ts=NOW)])
    pers.record([Event(session_id="s1", product_id=b, type="click", ts=NOW)])
    assert pers.profile("v").n_events == 1 and pers.profile("s1").n_events == 1


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_concurrent_writers_fold_every_event_exactly_once(fake_engine, log, tmp_path, store):
    profiles = MemoryProfileStore() if store == "memory" else SQLiteProfileStore(tmp_path / "p.sqlite")
    pers = Personalizer(fake_engine.pipeline.extractor.signals, log, profiles)
    ids = products(fake_engine)
    users = ["x", "y", "z"]

    def write(t: int) -> None:
        for i in range(40):
            pers.record([ev(users[(t + i) % 3], ids[(t * i) % len(ids)], NOW + i),
                         ev(users[(t + i + 1) % 3], ids[i % len(ids)], NOW + i)])

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for u in users:
        p = pers.profile(u)
        assert p is not None and p.n_events == log.count(u)
    assert sum(pers.profile(u).n_events for u in users) == 8 * 40 * 2
    profiles.close()


# -- poisoned timelines -----------------------------------------------------------------------
@pytest.mark.parametrize("times", [
    [1_795_345_459_457.0, NOW],  # milliseconds, then seconds
    [NOW, 1_795_345_459_457.0],
    [0.0, NOW], [NOW, 0.0], [1e300, 1.0], [NOW, NOW + 1e-9],
])
def test_poisoned_timelines_leave_a_profile_that_scores(fake_engine, pers, times):
    ids = products(fake_engine, len(times))
    for t, pid in zip(times, ids, strict=True):
        pers.record([ev("p", pid, t, kind="purchase")])
    p = pers.profile("p")
    assert p is not None and p.n_events == len(times)
    assert all(v > 0 and math.isfinite(v) for v in p.affinity.values())
    assert all(np.isfinite(v).all() for v in p.vectors.values())
    cols = fake_engine.pipeline.extractor.signals.columns(p, np.arange(10))
    assert all(np.isfinite(c).all() for c in cols.values())
    engine = fake_engine
    saved = engine.attach_personalizer(pers)
    try:
        res = engine.search(Query(text="backpack", k=5, user_id="p"))
        assert res.hits and all(math.isfinite(h.score) for h in res.hits)
    finally:
        engine.attach_personalizer(saved)


def test_a_late_event_decayed_to_nothing_adds_no_zero_weights():
    p = Profile(owner="o")
    p.add(NOW, 100.0, "click", "a", ["color:red"], {"text": np.ones(4, np.float32)})
    p.add(NOW - 1e9, 100.0, "purchase", "b", ["color:blue", "price:2"], {"text": np.ones(4, np.float32)})
    assert "color:blue" not in p.affinity and "price:2" not in p.affinity
    assert p.affinity_share("price:") == {} and p.affinity_share("color:") == {"color:red": 1.0}
    assert p.n_events == 2 and len(p.recent) == 2


def test_shares_ignore_zero_and_broken_weights():
    assert shares({"a": 0.0, "b": 0.0}) == {}
    assert shares({"a": float("nan"), "b": 1.0, "c": float("inf"), "d": -2.0}) == {"b": 1.0}
    assert shares({"a": 1e-320, "b": 1e-320}) == {"a": 0.5, "b": 0.5}


# -- suggestions ------------------------------------------------------------------------------
def test_a_query_is_suggested_only_after_enough_distinct_shoppers():
    q = PastQueries(min_users=3, blocklist=["Cheap Pills"])
    q.add([("Buy Cheap Pills now", f"bot{i}") for i in range(10)])
    q.add([("red dress", "ann")] * 5)  # one shopper, five times
    q.add([("Red  Dress", "bo")])
    assert q.suggestible() == {}
    v = q.version
    q.add([("red dress", "cy")])
    assert q.suggestible() == {"red dress": 7} and q.version > v
    assert q.blocked("BUY cheap   pills") and not q.blocked("red dress")


def test_pending_queries_are_bounded():
    q = PastQueries(min_users=2, max_pending=100)
    q.add((f"q{i}", "spammer") for i in range(10_000))
    q.add([("q9999", "other")])  # the most recent survived the flood
    assert q.suggestible() == {"q9999": 2} and len(q._pending) <= 100


# -- deferred folds ---------------------------------------------------------------------------
class FlakyStore(MemoryProfileStore):
    """A profile store that raises ``errors[owner]`` (or ``errors["*"]``) for those owners."""

    def __init__(self) -> None:
        super().__init__()
        self.errors: dict[str, Exception] = {}

    def _check(self, owner: str) -> None:
        e = self.errors.get(owner) or self.errors.get("*")
        if e is not None:
            raise e

    def get(self, owner):
        self._check(owner)
        return super().get(owner)

    def update(self, owner, fn):
        self._check(owner)
        return super().update(owner, fn)


@pytest.fixture
def flaky(fake_engine, log):
    store = FlakyStore()
    return Personalizer(fake_engine.pipeline.extractor.signals, log, store), store


@pytest.mark.parametrize("error", [ValueError("corrupt profile"), RuntimeError("boom"),
                                   sqlite3.DatabaseError("file is not a database")])
def test_an_owner_whose_fold_keeps_failing_blocks_no_one(flaky, fake_engine, log, error, caplog):
    pers, store = flaky
    a, b = products(fake_engine, 2)
    store.errors["bad"] = error
    pers.record([ev("bad", a)])  # logged, so acknowledged: no exception
    assert pers._pending == {"bad": 1}
    for i, user in enumerate(["u1", "u2", "u3"]):
        stored = pers.record([ev(user, b)])  # later events of everyone else still go through
        assert stored[0].seq == i + 2
        assert pers.profile(user).n_events == 1
    assert log.count("bad") == 1 and "bad" in pers._pending  # kept: the log still holds its events
    assert sum("profile of bad" in r.getMessage() for r in caplog.records) == 1  # logged once, not per call
    del store.errors["bad"]
    assert pers.fold_pending() == 0 and pers.profile("bad").n_events == 1


def test_a_locked_sqlite_store_defers_the_fold_instead_of_failing(flaky, fake_engine, log):
    pers, store = flaky
    a, b = products(fake_engine, 2)
    store.errors["u"] = sqlite3.OperationalError("database is locked")
    pers.record([ev("u", a)])
    pers.record([ev("u", b)])
    assert log.count("u") == 2 and pers._pending == {"u": 2}
    del store.errors["u"]
    pers.record([ev("v", a)])
    assert pers._pending == {} and pers.profile("u").n_events == 2


def test_one_call_folds_a_bounded_batch(flaky, fake_engine, monkeypatch):
    pers, store = flaky
    (a,) = products(fake_engine, 1)
    store.errors["*"] = StoreUnavailable("down")
    for i in range(5):
        pers.record([ev(f"u{i}", a)])
    assert len(pers._pending) == 5
    store.errors.clear()
    monkeypatch.setattr(online, "FOLD_BATCH", 2)
    assert pers.fold_pending() == 3
    assert pers.fold_pending() == 1
    assert pers.fold_pending() == 0
    assert all(pers.profile(f"u{i}").n_events == 1 for i in range(5))


def test_a_call_skips_folding_while_another_folds(flaky, fake_engine):
    pers, store = flaky
    (a,) = products(fake_engine, 1)
    store.errors["*"] = StoreUnavailable("down")
    pers.record([ev("u", a)])
    store.errors.clear()
    with pers._folding:  # another request is inside fold_pending
        assert pers.fold_pending() == 1
    assert pers.fold_pending() == 0


def test_a_forgotten_shoppers_deferred_fold_is_dropped(flaky, fake_engine, log):
    pers, store = flaky
    (a,) = products(fake_engine, 1)
    store.errors["*"] = StoreUnavailable("down")
    pers.record([Event(session_id="s-ann", product_id=a, type="click", ts=NOW)])  # before signing in
    pers.record([Event(user_id="ann", session_id="s-ann", product_id=a, type="cart", ts=NOW)])
    pers.record([ev("bob", a)])
    assert set(pers._pending) == {"ann", "s-ann", "bob"}
    store.errors.clear()
    pers.forget("ann")
    assert set(pers._pending) == {"bob"}
    pers.fold_pending()
    assert store.get("ann") is None and store.get("s-ann") is None and store.get("bob").n_events == 1


def test_reading_a_deferred_profile_folds_it_or_serves_the_stale_one(flaky, fake_engine):
    pers, store = flaky
    a, b = products(fake_engine, 2)
    pers.record([ev("u", a)])
    store.errors["u"] = RuntimeError("update failed")
    pers.record([ev("u", b)])
    store.get = MemoryProfileStore.get.__get__(store)  # reads work, updates still fail
    assert pers.profile("u").n_events == 1  # stale, not an error
    del store.errors["u"]
    assert pers.profile("u").n_events == 2 and pers._pending == {}


def test_catch_up_goes_on_past_an_unreadable_profile(flaky, fake_engine):
    """A start folds what the log holds; one corrupt profile must not stop the server starting."""
    pers, store = flaky
    a, b = products(fake_engine, 2)
    pers.record([ev("bad", a), ev("good", b)])
    store._data.clear()  # a new, empty profile store: the log is the truth
    store.errors["bad"] = ValueError("corrupt profile")
    assert pers.catch_up() == 1  # "good" folded, "bad" deferred
    assert pers.profile("good").n_events == 1 and "bad" in pers._pending
    del store.errors["bad"]
    assert pers.fold_pending() == 0 and pers.profile("bad").n_events == 1
