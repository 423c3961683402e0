"""An acknowledged catalog write is never lost: SIGKILL a server while four clients stream bulk
upserts, restart it, and find every acknowledged product, as written, in search and by id."""
from __future__ import annotations

import json
import random
import threading
import time

import httpx
import pytest

from fakes import shop_catalog
from server_process import start_server, stop_server
from shoprank.config import Settings
from shoprank.engine import ShopRank

pytestmark = pytest.mark.slow  # child processes

ADMIN = "durable-admin"
KILLS = 3


@pytest.fixture
def env(tmp_path):
    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="none", profile_store="memory")
    ShopRank.build(shop_catalog("A"), settings.index_dir("shop"), settings)
    return {"SHOPRANK_HOME": str(tmp_path), "SHOPRANK_TEXT_ENCODER": "hashing", "SHOPRANK_IMAGE_ENCODER": "none",
            "SHOPRANK_PROFILE_STORE": "memory", "SHOPRANK_ADMIN_KEY": ADMIN, "SHOPRANK_CF_MODEL": "none"}


def stream(url: str, acked: dict[str, float], stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=10, headers={"X-API-Key": ADMIN}) as c:
        while not stop.is_set():
            batch = {f"W{seed}-{rng.randrange(10**9)}": round(rng.uniform(1, 500), 2) for _ in range(10)}
            body = "\n".join(json.dumps({"id": pid, "title": f"Durable Widget {pid}", "price": price})
                             for pid, price in batch.items())
            try:
                r = c.post("/products:bulk", content=body.encode(), headers={"content-type": "application/x-ndjson"})
            except httpx.HTTPError:
                return  # the server is gone
            assert r.status_code == 200, r.text
            assert r.json()["accepted"] == len(batch)
            acked.update(batch)


def test_sigkill_during_bulk_upserts_loses_no_acknowledged_write(env, tmp_path):
    acked: dict[str, float] = {}
    for round_ in range(KILLS):
        url, proc = start_server("shop", env, tmp_path / "server.log")
        stop = threading.Event()
        writers = [threading.Thread(target=stream, args=(url, acked, stop, round_ * 10 + t)) for t in range(4)]
        try:
            n0 = len(acked)
            for w in writers:
                w.start()
            deadline = time.monotonic() + 60
            while len(acked) < n0 + 200 and time.monotonic() < deadline:
                time.sleep(0.01)
            proc.kill()  # SIGKILL, bulk requests in flight
            proc.wait(timeout=10)
        finally:
            stop.set()
            for w in writers:
                w.join(timeout=30)
            stop_server(proc)
        assert len(acked) >= n0 + 200
    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="none", profile_store="memory")
    engine = ShopRank.open(settings.index_dir("shop"), settings)
    missing = [pid for pid in acked if engine.product(pid) is None]
    assert not missing, f"lost {len(missing)} of {len(acked)} acknowledged writes"
    assert all(engine.product(pid).price == price for pid, price in acked.items())
    some = random.Random(0).sample(sorted(acked), 20)
    assert all(engine.search(f"durable widget {pid}", k=3).hits[0].product.id == pid for pid in some)
