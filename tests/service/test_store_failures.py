"""Stores failing under a running service: a profile store down or frozen, a disk full, a locked
database. Events are acknowledged once logged, searches go on unpersonalized within a bounded
time, failures are 503/507 with a reason, and the connection stays usable."""
from __future__ import annotations

import errno
import importlib.util
import socket
import sqlite3
import time

import pytest
from fastapi.testclient import TestClient

from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.personalization.online import Personalizer
from shoprank.personalization.store.base import StoreUnavailable
from shoprank.personalization.store.redis import RedisProfileStore
from shoprank.personalization.store.sqlite import MemoryProfileStore, SQLiteEventLog
from shoprank.service import create_app

needs_redis_client = pytest.mark.skipif(importlib.util.find_spec("redis") is None,
                                        reason="pip install 'shoprank[redis]' (the redis client)")

CLICK = {"user_id": "ann", "product_id": "demo-backpack-red", "type": "click"}


@pytest.fixture(scope="module")
def engine(demo_catalog, tmp_path_factory):
    settings = Settings(home=tmp_path_factory.mktemp("home"), text_encoder="hashing", image_encoder="palette",
                        profile_store="memory", rate_search_per_s=0, rate_events_per_s=0, cf_model="none")
    return ShopRank.build(demo_catalog, settings.index_dir("demo"), settings)


@pytest.fixture()
def serve_with(engine, tmp_path):
    """A client of ``engine`` serving with ``profiles`` and a fresh event log of this test."""
    def serve(profiles, events=None) -> TestClient:
        events = events or SQLiteEventLog(tmp_path / "events.sqlite")
        engine.attach_personalizer(Personalizer(engine.pipeline.extractor.signals, events, profiles))
        return TestClient(create_app(engine))

    yield serve
    engine.attach_personalizer(None)


@pytest.fixture()
def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed: connections are refused


@pytest.fixture()
def frozen_port():
    """A port that accepts connections and never answers: a Redis stopped with SIGSTOP."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)  # the kernel completes handshakes into the backlog; nobody reads
        yield s.getsockname()[1]


class Switchable(MemoryProfileStore):
    """An in-memory store that can be taken down and brought back."""

    down = False

    def get(self, owner):
        if self.down:
            raise StoreUnavailable("store down (test)")
        return super().get(owner)

    def update(self, owner, fn):
        if self.down:
            raise StoreUnavailable("store down (test)")
        return super().update(owner, fn)


@needs_redis_client
def test_redis_down_events_acknowledged_and_search_unpersonalized(engine, serve_with, closed_port):
    with serve_with(RedisProfileStore(f"redis://127.0.0.1:{closed_port}/0")) as c:
        r = c.post("/events", json=CLICK)
        assert r.status_code == 200, r.text  # it is in the log: a retry would count it twice
        assert r.json()["accepted"] == 1
        assert engine.personalizer.events.count("ann") == 1
        r = c.post("/search", json={"q": "backpack", "user_id": "ann"})
        assert r.status_code == 200, r.text
        assert r.json()["personalized"] is False and r.json()["results"]
        r = c.get("/users/ann/profile")
        assert r.status_code == 503 and "Redis" in r.json()["detail"]
        assert c.get("/health").status_code == 200  # the same client goes on


@needs_redis_client
def test_frozen_redis_costs_a_search_a_bounded_wait(engine, serve_with, frozen_port):
    with serve_with(RedisProfileStore(f"redis://127.0.0.1:{frozen_port}/0", timeout_s=0.2)) as c:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = c.post("/search", json={"q": "backpack", "user_id": "ann"})
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["personalized"] is False
        assert times[0] < 1.0, times  # one socket timeout, no retries
        assert max(times[1:]) < 0.15, times  # then the breaker answers at once
        t0 = time.perf_counter()
        assert c.post("/events", json=CLICK).status_code == 200
        assert time.perf_counter() - t0 < 0.5


def test_events_logged_while_the_store_is_down_are_folded_when_it_returns(engine, serve_with):
    store = Switchable()
    with serve_with(store) as c:
        store.down = True
        assert c.post("/events", json=CLICK).status_code == 200
        assert c.post("/events", json={**CLICK, "user_id": "bob"}).status_code == 200
        store.down = False
        assert c.get("/users/ann/profile").json()["n_events"] == 1  # reading a profile folds it first
        assert engine.personalizer._pending == {"bob": 2}
        assert c.post("/events", json={**CLICK, "user_id": "cy"}).status_code == 200
        assert engine.personalizer._pending == {}  # caught up with the next events
        assert c.get("/users/bob/profile").json()["n_events"] == 1
        r = c.post("/search", json={"q": "backpack", "user_id": "ann"})
        assert r.json()["personalized"] is True


def test_a_retried_event_id_counts_once(engine, serve_with):
    with serve_with(MemoryProfileStore()) as c:
        first = c.post("/events", json={**CLICK, "event_id": "e-1"}).json()
        again = c.post("/events", json={"events": [{**CLICK, "event_id": "e-1"},
                                                    {**CLICK, "event_id": "e-2"}]}).json()
        assert again["accepted"] == 2 and again["duplicates"] == 1
        assert again["seq"][0] == first["seq"][0] and again["seq"][1] > first["seq"][0]
        other = c.post("/events", json={**CLICK, "user_id": "bob", "event_id": "e-1"}).json()
        assert other["duplicates"] == 0  # ids are the owner's own: another shopper's e-1 is another event
        assert engine.personalizer.events.count("ann") == 2
        assert c.get("/users/ann/profile").json()["n_events"] == 2


class FailingLog(SQLiteEventLog):
    error: Exception

    def append(self, events, now):
        raise self.error


@pytest.mark.parametrize("error,status", [
    (sqlite3.OperationalError("database or disk is full"), 507),
    (OSError(errno.ENOSPC, "No space left on device"), 507),
    (sqlite3.OperationalError("database is locked"), 503),
    (OSError(errno.EIO, "Input/output error"), 503),
])
def test_storage_failures_are_503_or_507_and_the_connection_stays(engine, serve_with, tmp_path, error, status):
    log = FailingLog(tmp_path / "events.sqlite")
    log.error = error
    with serve_with(MemoryProfileStore(), log) as c:
        r = c.post("/events", json=CLICK)
        assert r.status_code == status, r.text
        assert "retry" in r.json()["detail"] and "Retry-After" in r.headers
        assert r.headers.get("connection") != "close"
        assert c.post("/search", json={"q": "backpack"}).status_code == 200


@pytest.mark.parametrize("error", [
    PermissionError(errno.EACCES, "Permission denied"),
    FileNotFoundError(errno.ENOENT, "No such file or directory"),
    sqlite3.ProgrammingError("Cannot operate on a closed database."),
    sqlite3.OperationalError("no such table: events"),
])
def test_other_storage_failures_are_a_json_500_not_a_retry(engine, serve_with, tmp_path, error):
    log = FailingLog(tmp_path / "events.sqlite")
    log.error = error
    with serve_with(MemoryProfileStore(), log) as c:
        r = c.post("/events", json=CLICK)
        assert r.status_code == 500, r.text  # retrying would fail the same way
        assert r.json() == {"detail": "internal error (logged on the server)"} and "Retry-After" not in r.headers
        assert c.post("/search", json={"q": "backpack"}).status_code == 200
        assert "500" in c.get("/openapi.json").json()["paths"]["/events"]["post"]["responses"]  # documented


def test_an_unforeseen_error_is_a_json_500_not_a_dropped_connection(engine, monkeypatch):
    with TestClient(create_app(engine)) as c:
        monkeypatch.setattr(engine, "suggest", lambda *a, **k: 1 / 0)
        r = c.get("/suggest", params={"q": "ba"})
        assert r.status_code == 500 and r.json() == {"detail": "internal error (logged on the server)"}
        assert c.get("/health").status_code == 200


def test_events_refuse_what_another_origin_sends_without_preflight(engine, serve_with):
    with serve_with(MemoryProfileStore()) as c:
        purchase = b'{"user_id": "ann", "product_id": "demo-backpack-red", "type": "purchase"}'
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
            headers = {"origin": "https://evil.example"} | ({"content-type": ctype} if ctype else {})
            r = c.post("/events", content=purchase, headers=headers)
            assert r.status_code == 415, r.text
        assert engine.personalizer.events.count("ann") == 0
        assert c.post("/events", content=purchase, headers={"content-type": "application/json"}).status_code == 200


@pytest.mark.slow  # a real redis-server, frozen and stopped mid-run
def test_real_redis_frozen_then_stopped_mid_run(engine, serve_with, tmp_path):
    import signal

    from redis_server import start_redis_server, stop_redis_server

    url, proc = start_redis_server(tmp_path / "redis")
    try:
        with serve_with(RedisProfileStore(url, timeout_s=0.2, cooldown_s=0.5)) as c:
            assert c.post("/events", json=CLICK).status_code == 200
            assert c.post("/search", json={"q": "backpack", "user_id": "ann"}).json()["personalized"] is True
            proc.send_signal(signal.SIGSTOP)
            t0 = time.perf_counter()
            r = c.post("/search", json={"q": "backpack", "user_id": "ann"})
            assert r.status_code == 200 and r.json()["personalized"] is False
            assert time.perf_counter() - t0 < 1.0  # was 8.2 s
            assert c.post("/events", json={**CLICK, "event_id": "x1"}).status_code == 200
            assert c.post("/events", json={**CLICK, "event_id": "x1"}).json()["duplicates"] == 1  # a retry
            proc.send_signal(signal.SIGCONT)
            time.sleep(0.6)
            assert c.post("/events", json={**CLICK, "user_id": "bob"}).status_code == 200
            assert c.get("/users/ann/profile").json()["n_events"] == 2  # the frozen-time event folded in
            stop_redis_server(proc)
            assert c.post("/events", json=CLICK).status_code == 200
            r = c.post("/search", json={"q": "backpack", "user_id": "ann"})
            assert r.status_code == 200 and r.json()["personalized"] is False
            assert engine.personalizer.events.count("ann") == 3
    finally:
        proc.send_signal(signal.SIGCONT)
        stop_redis_server(proc)
