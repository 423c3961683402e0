"""Product videos over HTTP: written with PUT/PATCH inside the media folder only, served at
/videos/{id}/{n} with their content type and byte ranges (a player seeks)."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from fakes import shop_catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service import create_app

ADMIN = "admin-key-videos"
H = {"X-API-Key": ADMIN}
CLIP = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2" + bytes(range(256)) * 4  # served as stored: no decoding here


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    home = tmp_path_factory.mktemp("videos")
    media = home / "media"
    media.mkdir()
    (media / "demo.mp4").write_bytes(CLIP)
    (media / "notes.mp4").write_text("not a video")
    (home / "outside.mp4").write_bytes(CLIP)
    settings = Settings(home=home, text_encoder="hashing", image_encoder="none", profile_store="memory",
                        admin_key=SecretStr(ADMIN), rate_search_per_s=0, rate_events_per_s=0, image_root=media,
                        catalog_poll_s=0)
    engine = ShopRank.build(shop_catalog("V", n=5), settings.index_dir("shop"), settings)
    with TestClient(create_app(engine)) as c:
        assert c.put("/products/clip", json={"title": "Demo Lamp", "videos": "demo.mp4"}, headers=H).status_code == 200
        yield c


def test_a_written_video_is_listed_and_served_whole(client):
    assert client.get("/products/clip").json()["video_urls"] == ["/videos/clip/0"]
    r = client.get("/videos/clip/0")
    assert r.status_code == 200 and r.content == CLIP and r.headers["content-type"] == "video/mp4"
    assert r.headers["accept-ranges"] == "bytes"


def test_a_range_request_gets_those_bytes(client):
    r = client.get("/videos/clip/0", headers={"Range": "bytes=24-33"})
    assert r.status_code == 206 and r.content == CLIP[24:34]
    assert r.headers["content-range"] == f"bytes 24-33/{len(CLIP)}"
    assert client.get("/videos/clip/0", headers={"Range": f"bytes={len(CLIP) + 5}-"}).status_code == 416


@pytest.mark.parametrize("path", ["/videos/clip/1", "/videos/clip/-1", "/videos/nope/0", "/videos/V-0001/0"])
def test_only_recorded_videos_are_served(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("videos, why", [("../outside.mp4", "outside the video folder"), ("notes.mp4", "not a video"),
                                         ("/etc/passwd", "outside the video folder")])
def test_a_write_naming_a_bad_video_is_refused(client, videos, why):
    r = client.put("/products/x", json={"title": "X", "videos": videos}, headers=H)
    assert r.status_code == 422 and why in r.text
    r = client.patch("/products/clip", json={"videos": videos}, headers=H)
    assert r.status_code == 422 and why in r.text
    assert client.get("/products/clip").json()["video_urls"] == ["/videos/clip/0"]  # unchanged


def test_a_patch_sets_and_clears_videos(client):
    assert client.patch("/products/V-0002", json={"videos": ["demo.mp4"]}, headers=H).status_code == 200
    assert client.get("/videos/V-0002/0").content == CLIP
    assert client.patch("/products/V-0002", json={"videos": []}, headers=H).status_code == 200
    assert client.get("/videos/V-0002/0").status_code == 404
