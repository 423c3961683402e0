"""A real `shoprank serve` under search load while `shoprank index` publishes a new generation:
the server's watcher switches to it, and not one search fails."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from fakes import MARKER, shop_catalog, shop_rows, write_jsonl
from server_process import start_server, stop_server
from shoprank.config import Settings
from shoprank.engine import ShopRank

pytestmark = pytest.mark.slow  # two child processes

SRC = Path(__file__).resolve().parents[2] / "src"
OLD, NEW = "A-0137", "B-0042"


def test_a_serving_process_picks_up_a_new_generation_without_failed_searches(tmp_path):
    env = {"SHOPRANK_HOME": str(tmp_path), "SHOPRANK_TEXT_ENCODER": "hashing", "SHOPRANK_IMAGE_ENCODER": "none",
           "SHOPRANK_PROFILE_STORE": "memory", "SHOPRANK_INDEX_WATCH_S": "0.2",
           "SHOPRANK_RATE_SEARCH_PER_S": "0",  # one client searching flat out (where rate limits exist)
           "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)}
    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="none")
    ShopRank.build(shop_catalog("A", marker_at=137), settings.index_dir("shop"), settings)
    write_jsonl(tmp_path / "next.jsonl", shop_rows("B", marker_at=42))

    url, proc = start_server("shop", env, tmp_path / "server.log")
    searches: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def search_forever() -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                started = time.monotonic()
                r = c.post("/search", json={"q": MARKER, "k": 3})
                searches.append((started, r.status_code, r.json()["results"][0]["id"] if r.is_success else None))

    threads = [threading.Thread(target=search_forever) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        indexed = subprocess.run([sys.executable, "-m", "shoprank.cli", "index", str(tmp_path / "next.jsonl"),
                                  "--name", "shop"], env={**os.environ, **env}, capture_output=True, text=True,
                                 timeout=120)
        assert indexed.returncode == 0, indexed.stderr[-2000:]
        deadline = time.monotonic() + 20
        while httpx.get(url + "/health").json()["generation"] != "gen-000002":
            assert time.monotonic() < deadline, "the server did not switch to gen-000002"
            time.sleep(0.05)
        switched, n = time.monotonic(), len(searches)
        while len(searches) < n + 30 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
        stop_server(proc)

    assert searches and [status for _, status, _ in searches] == [200] * len(searches)
    assert {top for started, _, top in searches if started > switched} == {NEW}
    assert {top for _, _, top in searches} == {OLD, NEW}
