"""The SQLite event log's own checks, and contract tests for the profile store backends.

The event log's contract suite is in tests/stores/event_log_contract.py, with the other stores'.
The profile store contract is a mixin of tests; a backend gets the whole suite from a small
``Test...`` subclass that only supplies an ``open_store`` fixture (a factory that opens the
backend on the same underlying storage each time it is called). Backend-specific checks
(pragmas, crash durability, cache, TTL) live in those subclasses.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from shoprank.personalization.profile import Profile
from shoprank.personalization.store import sqlite as sqlite_store
from shoprank.personalization.store.base import EventLog, ProfileStore
from shoprank.personalization.store.sqlite import MemoryProfileStore, SQLiteEventLog, SQLiteProfileStore
from shoprank.types import Event
from stores.contract import run_threads


def ev(product: str = "p1", user: str | None = None, session: str | None = "s1", type: str = "view",
       ts: float | None = None, query: str | None = None) -> Event:
    return Event(user_id=user, session_id=session, product_id=product, type=type, ts=ts, query=query)


# -- event log ----------------------------------------------------------------------------------

class TestSQLiteEventLog:
    """What the SQLite event log adds to the contract (tests/stores/event_log_contract.py)."""

    @pytest.fixture
    def elog(self, tmp_path) -> Iterator[EventLog]:
        log = SQLiteEventLog(tmp_path / "events.sqlite")
        yield log
        log.close()

    def test_is_wal_with_full_sync(self, elog):
        assert elog._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert elog._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert elog._conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000

    def test_scan_pages(self, elog, monkeypatch):
        monkeypatch.setattr(sqlite_store, "SCAN_PAGE", 7)
        stored = elog.append([ev(f"p{i}", session=f"s{i % 2}") for i in range(30)], now=1.0)
        assert list(elog.scan()) == stored
        assert list(elog.scan("s1")) == stored[1::2]
        assert list(elog.scan(after_seq=stored[6].seq)) == stored[7:]

    def test_scan_does_not_hold_the_lock_while_consumed(self, elog):
        elog.append([ev("p1"), ev("p2")], now=1.0)
        it = elog.scan()
        next(it)  # a consumer paused mid-scan must not block writers
        t = threading.Thread(target=elog.append, args=([ev("p3")], 2.0))
        t.start()
        t.join(5)
        assert not t.is_alive(), "append blocked behind an open scan"
        assert elog.count() == 3

    @pytest.mark.slow  # child processes
    def test_acknowledged_events_survive_sigkill(self, tmp_path):
        path = tmp_path / "events.sqlite"
        child = textwrap.dedent("""
            import sys
            from pathlib import Path
            from shoprank.personalization.store.sqlite import SQLiteEventLog
            from shoprank.types import Event
            log = SQLiteEventLog(Path(sys.argv[1]))
            n = 0
            while True:
                log.append([Event(session_id="s", product_id=f"p{n}", type="view")], now=float(n))
                n += 1
                print(f"acked {n}", flush=True)
        """)
        proc = subprocess.Popen([sys.executable, "-c", child, str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            acked = 0
            while acked < 25:
                line = proc.stdout.readline()
                assert line, f"writer died early: {proc.stderr.read()}"
                acked = int(line.split()[1])
            os.kill(proc.pid, signal.SIGKILL)  # right after the ack: no chance to flush or close
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL
        log = SQLiteEventLog(path)
        try:
            ids = [s.event.product_id for s in log.scan()]
            assert len(ids) >= acked
            assert ids[:acked] == [f"p{i}" for i in range(acked)]
        finally:
            log.close()

    @pytest.mark.slow  # child processes
    def test_two_processes_append_concurrently(self, tmp_path):
        path = tmp_path / "events.sqlite"
        SQLiteEventLog(path).close()  # create the schema up front, as the API does at startup
        child = textwrap.dedent("""
            import sys
            from pathlib import Path
            from shoprank.personalization.store.sqlite import SQLiteEventLog
            from shoprank.types import Event
            log = SQLiteEventLog(Path(sys.argv[1]))
            for j in range(100):
                log.append([Event(session_id=sys.argv[2], product_id=f"p{j}", type="click")], now=1.0)
            log.close()
        """)
        procs = [subprocess.Popen([sys.executable, "-c", child, str(path), f"proc{i}"], stderr=subprocess.PIPE,
                                  text=True) for i in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        log = SQLiteEventLog(path)
        try:
            assert log.count() == 200
            assert log.count("proc0") == 100 and log.count("proc1") == 100
        finally:
            log.close()


# -- profile store ------------------------------------------------------------------------------

def make_profile(owner: str) -> Profile:
    rng = np.random.default_rng(7)
    return Profile(owner=owner, updated=1_700_000_123.456789, n_events=3,
                   affinity={"category:Women/Bottoms/Pants": 1.0 / 3.0, "color:red": 0.1 + 0.2, "price:3": 5e-5},
                   vectors={"text": rng.standard_normal(384).astype(np.float32),
                            "image": rng.standard_normal(1280).astype(np.float32),
                            "color": np.array([0.1, 0.2, 0.7], np.float32)},
                   recent=[("p1", "view", 1.5), ("p2", "cart", 2.25)])


def assert_same_profile(a: Profile, b: Profile) -> None:
    assert (a.owner, a.updated, a.n_events, a.affinity, a.recent) == (b.owner, b.updated, b.n_events, b.affinity,
                                                                      b.recent)
    assert a.vectors.keys() == b.vectors.keys()
    for k in a.vectors:
        assert a.vectors[k].dtype == b.vectors[k].dtype == np.float32
        np.testing.assert_array_equal(a.vectors[k], b.vectors[k])


def bump(owner: str) -> Callable[[Profile | None], Profile]:
    def fn(p: Profile | None) -> Profile:
        p = p or Profile(owner=owner)
        p.n_events += 1
        return p
    return fn


class ProfileStoreContract:
    """What every :class:`ProfileStore` must do. Subclasses supply ``open_store``.

    ``instance_per_thread``: the concurrency test gives each thread its own store
    object, as separate processes would have (for backends shared across processes).
    """

    instance_per_thread = False

    @pytest.fixture
    def open_store(self) -> Callable[[], ProfileStore]:
        raise NotImplementedError

    @pytest.fixture
    def store(self, open_store) -> Iterator[ProfileStore]:
        s = open_store()
        yield s
        s.close()

    def test_get_unknown_is_none(self, store):
        assert store.get("nobody") is None

    def test_update_creates_from_none(self, store):
        seen: list[Profile | None] = []

        def fn(p: Profile | None) -> Profile:
            seen.append(p)
            return make_profile("u1")

        out = store.update("u1", fn)
        assert seen == [None]
        assert_same_profile(out, make_profile("u1"))
        assert_same_profile(store.get("u1"), make_profile("u1"))

    def test_update_sees_current_profile(self, store):
        store.update("u1", bump("u1"))
        out = store.update("u1", bump("u1"))
        assert out.n_events == 2 and store.get("u1").n_events == 2
        assert store.get("u2") is None

    def test_concurrent_updates_are_atomic(self, store, open_store):
        n_threads, per_thread = 8, 50
        stores = [open_store() for _ in range(n_threads)] if self.instance_per_thread else [store] * n_threads

        def work(i: int) -> None:
            for _ in range(per_thread):
                stores[i].update("hot", bump("hot"))

        try:
            run_threads(n_threads, work)
        finally:
            if self.instance_per_thread:
                for s in stores:
                    s.close()
        assert store.get("hot").n_events == n_threads * per_thread

    def test_delete(self, store):
        store.update("u1", bump("u1"))
        store.update("u2", bump("u2"))
        assert store.delete("u1") is True
        assert store.get("u1") is None
        assert store.delete("u1") is False
        assert store.get("u2").n_events == 1
        assert store.update("u1", bump("u1")).n_events == 1  # starts afresh

    def test_vectors_and_affinities_round_trip_exactly(self, store):
        store.update("u1", lambda p: make_profile("u1"))
        got = store.get("u1")
        assert_same_profile(got, make_profile("u1"))
        assert_same_profile(store.update("u1", lambda p: p), make_profile("u1"))

    def test_callers_cannot_mutate_the_stored_profile(self, store):
        store.update("u1", lambda p: make_profile("u1"))
        p = store.get("u1")
        p.affinity["color:blue"] = 9.0
        p.vectors["text"][:] = 0
        p.recent.append(("p9", "view", 9.0))
        assert_same_profile(store.get("u1"), make_profile("u1"))

    def test_failed_update_changes_nothing(self, store):
        store.update("u1", lambda p: make_profile("u1"))

        def boom(p: Profile | None) -> Profile:
            assert p is not None
            p.n_events = 99  # mutates what it was given, then fails
            p.vectors["text"][:] = 0
            raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            store.update("u1", boom)
        assert_same_profile(store.get("u1"), make_profile("u1"))


class SharedProfileStoreContract:
    """For stores whose profiles outlive the object: a new one opened later sees them."""

    def test_profiles_survive_close_and_reopen(self, open_store):
        s = open_store()
        s.update("u1", lambda p: make_profile("u1"))
        s.update("u2", bump("u2"))
        s.close()
        s = open_store()
        try:
            assert_same_profile(s.get("u1"), make_profile("u1"))
            assert s.update("u2", bump("u2")).n_events == 2
        finally:
            s.close()


class TestMemoryProfileStore(ProfileStoreContract):
    @pytest.fixture
    def open_store(self):
        return MemoryProfileStore


class TestSQLiteProfileStore(ProfileStoreContract, SharedProfileStoreContract):
    @pytest.fixture
    def open_store(self, tmp_path):
        return lambda: SQLiteProfileStore(tmp_path / "profiles.sqlite")

    def test_small_cache_still_serves_every_profile(self, tmp_path):
        s = SQLiteProfileStore(tmp_path / "profiles.sqlite", cache_size=2)
        try:
            for i in range(10):
                for _ in range(i + 1):
                    s.update(f"u{i}", bump(f"u{i}"))
            assert len(s._cache) <= 2
            assert [s.get(f"u{i}").n_events for i in range(10)] == list(range(1, 11))
        finally:
            s.close()


    def test_reads_what_another_process_wrote(self, tmp_path):
        # Two stores on one file are two connections, as two server processes have.
        a, b = SQLiteProfileStore(tmp_path / "p.sqlite"), SQLiteProfileStore(tmp_path / "p.sqlite")
        try:
            a.update("u1", bump("u1"))
            assert b.get("u1").n_events == 1  # now in b's cache
            a.update("u1", bump("u1"))
            assert b.get("u1").n_events == 2
            assert b.update("u1", bump("u1")).n_events == 3
            assert a.get("u1").n_events == 3
        finally:
            a.close()
            b.close()


class TestRedisProfileStore(ProfileStoreContract, SharedProfileStoreContract):
    instance_per_thread = True

    @pytest.fixture
    def open_store(self, redis_url):
        from shoprank.personalization.store.redis import RedisProfileStore

        prefix = f"test:{uuid.uuid4().hex}:"  # tests share one server: keep their keys apart
        return lambda: RedisProfileStore(redis_url, prefix=prefix)

    def test_keys_and_ttl(self, redis_url):
        import redis

        from shoprank.personalization.store.redis import RedisProfileStore

        s = RedisProfileStore(redis_url, prefix="ttltest:", ttl_s=100)
        r = redis.Redis.from_url(redis_url)
        try:
            s.update("u1", lambda p: make_profile("u1"))
            assert Profile.from_bytes(r.get("ttltest:u1")).owner == "u1"
            r.expire("ttltest:u1", 5)
            s.update("u1", bump("u1"))
            assert 5 < r.ttl("ttltest:u1") <= 100  # refreshed by the update
        finally:
            r.close()
            s.close()

    @pytest.mark.slow  # its own redis-server, frozen and stopped mid-run
    def test_a_frozen_or_stopped_server_is_unavailable_at_once_then_recovers(self, tmp_path):
        import time

        from redis_server import start_redis_server, stop_redis_server
        from shoprank.personalization.store.base import StoreUnavailable
        from shoprank.personalization.store.redis import RedisProfileStore

        url, proc = start_redis_server(tmp_path)
        s = RedisProfileStore(url, timeout_s=0.2, cooldown_s=0.5)
        try:
            s.update("u1", bump("u1"))
            proc.send_signal(signal.SIGSTOP)  # frozen: connections open, nothing answers
            for _ in range(3):
                t0 = time.perf_counter()
                with pytest.raises(StoreUnavailable):
                    s.get("u1")
                assert time.perf_counter() - t0 < 0.6  # one timeout, then the breaker: no 8 s waits
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.6)  # the cool-down passes; the next call tries the server again
            assert s.get("u1").n_events == 1
            stop_redis_server(proc)
            with pytest.raises(StoreUnavailable):
                s.update("u1", bump("u1"))
        finally:
            proc.send_signal(signal.SIGCONT)
            stop_redis_server(proc)
            s.close()

    def test_missing_client_says_how_to_install(self, monkeypatch):
        from shoprank.personalization.store.redis import RedisProfileStore

        monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` raise ImportError
        with pytest.raises(ImportError, match=r"pip install 'shoprank\[redis\]'"):
            RedisProfileStore("redis://127.0.0.1:1/0")
