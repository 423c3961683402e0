"""An acknowledged event is never lost: SIGKILL a server under 8 concurrent event writers,
again and again, restart, and count every acknowledged event in the log and in the profiles."""
from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from server_process import start_server, stop_server
from shoprank.index.generations import IndexHome
from shoprank.personalization.store.sqlite import SQLiteEventLog

pytestmark = pytest.mark.slow  # child processes

WRITERS = 8
KILLS = 5
ACKS_PER_ROUND = 120


@pytest.fixture
def server_env(demo_engine, settings, tmp_path):
    # The child serves the demo index the session fixture built; events go to a fresh file.
    assert IndexHome(settings.index_dir("demo")).current() is not None
    return {"SHOPRANK_HOME": str(settings.home), "SHOPRANK_EVENTS_DB": str(tmp_path / "events.sqlite"),
            "SHOPRANK_PROFILE_STORE": "sqlite", "SHOPRANK_DATA_DIR": str(settings.data_dir),
            "SHOPRANK_RATE_EVENTS_PER_S": "0", "SHOPRANK_CF_MODEL": "none"}


class Writers:
    """``WRITERS`` threads posting small batches for a few shared users to the given servers."""

    def __init__(self, urls: list[str], users: list[str], products: list[str], seed: int):
        self.acked: list[int] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._post, args=(urls[t % len(urls)], users, products, seed + t))
                         for t in range(WRITERS)]
        for t in self._threads:
            t.start()

    def _post(self, url: str, users: list[str], products: list[str], seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=url, timeout=10) as c:
            while not self._stop.is_set():
                batch = [{"user_id": rng.choice(users), "product_id": rng.choice(products), "type": "click",
                          "ts": time.time()} for _ in range(rng.randint(1, 4))]
                try:
                    r = c.post("/events", json={"events": batch})
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code != 200:
                    self.errors.append(r.text)
                    return
                with self._lock:
                    self.acked.extend(r.json()["seq"])

    def wait_for(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < n and time.monotonic() < deadline and any(t.is_alive() for t in self._threads):
            time.sleep(0.005)
        assert len(self.acked) >= n, f"writers stalled at {len(self.acked)} acks: {self.errors[:1]}"

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def kill(proc: subprocess.Popen) -> None:
    """No graceful shutdown, no flush: requests are still in flight."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def check(url: str, events_db: Path, users: list[str], acked: set[int]) -> int:
    """Every acknowledged event is logged; each profile folded exactly its owner's logged events."""
    log = SQLiteEventLog(events_db)
    try:
        stored = {se.seq for se in log.scan()}
        counts = {u: log.count(u) for u in users}
    finally:
        log.close()
    assert acked <= stored, f"lost {len(acked - stored)} acknowledged events"
    with httpx.Client(base_url=url, timeout=60) as c:
        for u in users:
            n = c.get(f"/users/{u}/profile").json()["n_events"]
            assert n == counts[u], f"profile of {u} folded {n} events, the log holds {counts[u]}"
    return len(stored)


def test_repeated_sigkill_under_concurrent_writers_loses_no_event(server_env, tmp_path, demo_engine):
    products = [p.id for p in demo_engine.artifacts.catalog][:20]
    users = [f"durable-{i}" for i in range(5)]
    events_db = Path(server_env["SHOPRANK_EVENTS_DB"])
    acked: set[int] = set()
    for round_ in range(KILLS):
        url, proc = start_server("demo", server_env, tmp_path / "server.log")
        try:
            if round_:  # the restarted server caught up with what the killed one logged
                check(url, events_db, users, acked)
            writers = Writers([url], users, products, seed=round_ * 100)
            try:
                writers.wait_for(ACKS_PER_ROUND)
                kill(proc)
            finally:
                writers.stop()
            assert not writers.errors, writers.errors[:3]
            acked |= set(writers.acked)
        finally:
            stop_server(proc)
    url, proc = start_server("demo", server_env, tmp_path / "server.log")
    try:
        assert check(url, events_db, users, acked) >= len(acked) >= KILLS * ACKS_PER_ROUND
    finally:
        stop_server(proc)


def test_killing_one_of_two_processes_sharing_redis_loses_no_event(server_env, tmp_path, demo_engine, redis_url):
    env = {**server_env, "SHOPRANK_PROFILE_STORE": "redis", "SHOPRANK_REDIS_URL": redis_url}
    products = [p.id for p in demo_engine.artifacts.catalog][:20]
    users = [f"shared-{i}" for i in range(5)]
    events_db = Path(env["SHOPRANK_EVENTS_DB"])
    url_a, proc_a = start_server("demo", env, tmp_path / "a.log")
    url_b, proc_b = start_server("demo", env, tmp_path / "b.log")
    try:
        acked: set[int] = set()
        for round_ in range(3):
            writers = Writers([url_a, url_b], users, products, seed=round_ * 100)
            try:
                writers.wait_for(ACKS_PER_ROUND)
                kill(proc_a)
            finally:
                writers.stop()
            acked |= set(writers.acked)
            # Events A logged but never folded are folded by B with the owner's next event.
            with httpx.Client(base_url=url_b, timeout=30) as c:
                for u in users:
                    r = c.post("/events", json={"user_id": u, "product_id": products[0], "type": "view"})
                    assert r.status_code == 200
                    acked |= set(r.json()["seq"])
            check(url_b, events_db, users, acked)
            url_a, proc_a = start_server("demo", env, tmp_path / "a.log")  # A's catch-up folds nothing twice
            check(url_a, events_db, users, acked)
    finally:
        stop_server(proc_a)
        stop_server(proc_b)
