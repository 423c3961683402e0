"""Writes over HTTP within bounds: a photo that does not decode, or absurdly long text, is a 422
with the reason (it was a 500, or minutes of both cores), and nothing is written."""
from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from fakes import broken_png, photo, shop_catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service import create_app

ADMIN = "admin-key-limits"
H = {"X-API-Key": ADMIN}


@pytest.fixture
def client(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    photo(photos / "lamp.png", "green")
    broken_png(photos / "broken.png")
    broken_png(photos / "garbled.png", crc_ok=True)
    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="palette", profile_store="memory",
                        admin_key=SecretStr(ADMIN), rate_search_per_s=0, rate_events_per_s=0, image_root=photos,
                        catalog_poll_s=0)
    engine = ShopRank.build(shop_catalog("A", n=40), settings.index_dir("shop"), settings)
    with TestClient(create_app(engine)) as c:
        yield c


@pytest.mark.parametrize(("name", "reason"), [("broken.png", "SyntaxError: broken PNG file"),
                                              ("garbled.png", "OSError: broken data stream")])
def test_a_photo_that_does_not_decode_is_refused_with_its_reason(client, name, reason):
    r = client.put("/products/x", json={"title": "Quibbleton Lamp", "images": [name]}, headers=H)
    assert r.status_code == 422, r.text
    assert f"image '{name}': not a readable image ({reason}" in r.text
    assert client.get("/products/x").status_code == 404
    ok = client.put("/products/x", json={"title": "Quibbleton Lamp", "images": ["lamp.png"]}, headers=H)
    assert ok.status_code == 200, ok.text


def test_a_900_kb_title_is_refused_at_once_and_a_long_one_cut(client):
    t0 = time.perf_counter()
    r = client.put("/products/x", json={"title": "ba " * 300_000}, headers=H)
    assert r.status_code == 422 and "title: 900,000 characters; at most 4,000 are accepted" in r.text
    assert time.perf_counter() - t0 < 1.0 and client.get("/products/x").status_code == 404
    bulk = "\n".join(json.dumps(row) for row in [{"id": "y", "title": "t" * 1_000_000}, {"id": "z", "title": "Lamp"}])
    r = client.post("/products:bulk", content=bulk, headers={**H, "Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and r.json()["rejected"][0]["line"] == 1
    ok = client.put("/products/w", json={"title": "Lamp " * 200}, headers=H)  # 1,000 characters: plausible
    assert ok.status_code == 200 and len(client.get("/products/w").json()["title"]) <= 500
