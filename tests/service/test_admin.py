"""POST /admin/reload and the index watcher: a server moves to a new generation, no request fails."""
from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from fakes import MARKER, shop_catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service import create_app

OLD, NEW = "A-0137", "B-0042"  # the marker product of each catalog


@pytest.fixture
def settings(tmp_path):
    # One client sends hundreds of searches a second here: no rate limit (where the setting exists).
    return Settings(home=tmp_path, text_encoder="hashing", image_encoder="none", profile_store="memory",
                    rate_search_per_s=0.0)


@pytest.fixture
def engine(settings):
    ShopRank.build(shop_catalog("A", marker_at=137), settings.index_dir("shop"), settings)
    return ShopRank.open(settings.index_dir("shop"), settings)


@pytest.mark.slow  # a rebuild under searches (about a second)
def test_searches_during_a_rebuild_and_reload_all_succeed_and_switch(engine, settings):
    searches: list[tuple[float, int, str | None]] = []  # (started, status, top hit)
    stop = threading.Event()

    with TestClient(create_app(engine)) as client:
        def search_forever() -> None:
            while not stop.is_set():
                started = time.monotonic()
                r = client.post("/search", json={"q": f"{MARKER} lamp", "k": 3})
                top = r.json()["results"][0]["id"] if r.status_code == 200 else None
                searches.append((started, r.status_code, top))

        def wait_for(n: int) -> None:
            deadline, target = time.monotonic() + 30, len(searches) + n
            while len(searches) < target and time.monotonic() < deadline:
                time.sleep(0.01)

        threads = [threading.Thread(target=search_forever) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            wait_for(20)
            built = time.monotonic()
            ShopRank.build(shop_catalog("B", marker_at=42), settings.index_dir("shop"), settings)
            wait_for(20)  # published, not yet served
            r = client.post("/admin/reload")
            switched = time.monotonic()
            wait_for(40)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert r.status_code == 200
        assert r.json() == {"generation": "gen-000002", "previous": "gen-000001", "reloaded": True}
        assert client.post("/admin/reload").json()["reloaded"] is False
        assert client.get("/health").json()["generation"] == "gen-000002"
        assert client.get(f"/products/{NEW}").status_code == 200 and client.get(f"/products/{OLD}").status_code == 404
        ev = client.post("/events", json={"user_id": "u1", "product_id": NEW, "type": "purchase"})
        assert ev.status_code == 200 and ev.json()["accepted"] == 1

    assert [status for _, status, _ in searches] == [200] * len(searches)
    assert {top for started, _, top in searches if started < built} == {OLD}
    assert {top for started, _, top in searches if started > switched} == {NEW}
    assert {top for _, _, top in searches} == {OLD, NEW}


def test_the_watcher_follows_the_pointer(engine, settings):
    watching = ShopRank.open(settings.index_dir("shop"), settings.model_copy(update={"index_watch_s": 0.05}))
    with TestClient(create_app(watching)) as client:
        assert client.get("/health").json()["generation"] == "gen-000001"
        ShopRank.build(shop_catalog("B", marker_at=42), settings.index_dir("shop"), settings)
        deadline = time.monotonic() + 10
        while client.get("/health").json()["generation"] != "gen-000002" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.post("/search", json={"q": MARKER, "k": 1}).json()["results"][0]["id"] == NEW
    # A generation the engine cannot serve is reported, and the served one stays.
    with TestClient(create_app(engine)) as client:
        ShopRank.build(shop_catalog("C"), settings.index_dir("shop"),
                       settings.model_copy(update={"image_encoder": "palette"}))
        r = client.post("/admin/reload")
        assert r.status_code == 409 and "image_encoder" in r.json()["detail"]
        assert client.get("/health").json()["generation"] == "gen-000001"
