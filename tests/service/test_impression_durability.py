"""An answered search is on record: SIGKILL a server under 4 concurrent searchers, three times,
and find every search id that was answered in the impression log, with what it showed."""
from __future__ import annotations

import random
import signal
import subprocess
import threading
import time

import httpx
import pytest

from server_process import start_server, stop_server
from shoprank.analytics.impressions import SQLiteImpressionLog
from shoprank.index.generations import IndexHome

pytestmark = pytest.mark.slow  # child processes

SEARCHERS = 4
KILLS = 3
QUERIES = ["red backpack", "blue mug", "bag", "coffee mug", "backpack under 40", "green"]


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)  # no shutdown, no flush
    proc.wait(timeout=10)


def test_no_answered_search_is_lost_on_sigkill(demo_engine, settings, tmp_path):
    assert IndexHome(settings.index_dir("demo")).current() is not None
    env = {"SHOPRANK_HOME": str(settings.home), "SHOPRANK_EVENTS_DB": str(tmp_path / "events.sqlite"),
           "SHOPRANK_IMPRESSIONS_DB": str(tmp_path / "impressions.sqlite"), "SHOPRANK_PROFILE_STORE": "sqlite",
           "SHOPRANK_DATA_DIR": str(settings.data_dir), "SHOPRANK_RATE_SEARCH_PER_S": "0",
           "SHOPRANK_CF_MODEL": "none"}
    answered: dict[str, list[str]] = {}
    lock = threading.Lock()
    for round_ in range(KILLS):
        url, proc = start_server("demo", env, tmp_path / "server.log")
        stop = threading.Event()

        def search(seed: int, url: str = url, stop: threading.Event = stop) -> None:
            rng = random.Random(seed)
            with httpx.Client(base_url=url, timeout=10) as c:
                while not stop.is_set():
                    try:
                        r = c.post("/search", json={"q": rng.choice(QUERIES), "k": 5, "user_id": f"u{seed}"})
                    except httpx.HTTPError:
                        return  # killed
                    assert r.status_code == 200, r.text
                    body = r.json()
                    with lock:
                        answered[body["search_id"]] = [x["id"] for x in body["results"]]

        threads = [threading.Thread(target=search, args=(round_ * 10 + i,)) for i in range(SEARCHERS)]
        for t in threads:
            t.start()
        before = len(answered)
        deadline = time.monotonic() + 60
        while len(answered) < before + 40 and time.monotonic() < deadline:
            time.sleep(0.01)
        kill(proc)  # searches in flight: some answered a moment ago, some never will be
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert len(answered) >= before + 40, "the searchers stalled"
    url, proc = start_server("demo", env, tmp_path / "server.log")  # a restart opens the log after the kills
    stop_server(proc)
    log = SQLiteImpressionLog(tmp_path / "impressions.sqlite", None, None, auto_retention=False)
    logged = {imp.search_id: list(imp.products) for imp in log.scan()}
    missing = set(answered) - set(logged)
    assert not missing, f"{len(missing)} of {len(answered)} answered searches are not in the log"
    assert all(logged[sid] == shown for sid, shown in answered.items())
