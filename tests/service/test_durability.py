"""An acknowledged event is never lost: SIGKILL the server right after acks, restart, count."""
from __future__ import annotations

import signal
import threading

import httpx
import pytest

from server_process import start_server, stop_server
from shoprank.index.generations import IndexHome
from shoprank.personalization.store.sqlite import SQLiteEventLog

pytestmark = pytest.mark.slow  # a child process

USER = "durable-dora"


@pytest.fixture
def server_env(demo_engine, settings, tmp_path):
    # The child serves the demo index the session fixture built; events go to a fresh file.
    assert IndexHome(settings.index_dir("demo")).current() is not None
    return {"SHOPRANK_HOME": str(settings.home), "SHOPRANK_EVENTS_DB": str(tmp_path / "events.sqlite"),
            "SHOPRANK_PROFILE_STORE": "sqlite", "SHOPRANK_DATA_DIR": str(settings.data_dir)}


def test_sigkill_after_acknowledged_events_loses_none(server_env, tmp_path, demo_engine):
    products = [p.id for p in demo_engine.artifacts.catalog][:20]
    url, proc = start_server("demo", server_env, tmp_path / "server.log")
    acked: list[int] = []
    stop = threading.Event()

    def post_forever() -> None:
        with httpx.Client(base_url=url, timeout=10) as c:
            i = 0
            while not stop.is_set():
                batch = [{"user_id": USER, "product_id": products[(i + j) % len(products)], "type": "click",
                          "ts": 1000.0 + i + j} for j in range(5)]
                try:
                    r = c.post("/events", json={"events": batch})
                except httpx.HTTPError:
                    return  # the server is gone
                assert r.status_code == 200, r.text
                acked.extend(r.json()["seq"])
                i += 5

    poster = threading.Thread(target=post_forever)
    poster.start()
    try:
        while len(acked) < 200 and poster.is_alive():
            threading.Event().wait(0.01)
        # Kill while requests are still in flight: no graceful shutdown, no flush.
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        stop.set()
        poster.join(timeout=30)
        stop_server(proc)
    assert len(acked) >= 200

    # Restart on the same files: every acknowledged event is in the log and in the profile.
    url, proc = start_server("demo", server_env, tmp_path / "server.log")
    try:
        log = SQLiteEventLog(tmp_path / "events.sqlite")
        stored = {se.seq for se in log.scan(USER)}
        log.close()
        assert set(acked) <= stored, f"lost {len(set(acked) - stored)} acknowledged events"
        profile = httpx.get(f"{url}/users/{USER}/profile", timeout=30).json()
        # Events stored but not acknowledged (in flight at the kill) may count too, never fewer.
        assert profile["n_events"] == len(stored) >= len(acked)
    finally:
        stop_server(proc)
