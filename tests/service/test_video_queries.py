"""Video queries: multipart ``video`` on /search, its keyframes pooled into one query photo;
a clip that is refused is a 422 with the reason, quickly."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

pytest.importorskip("av", reason="pip install 'shoprank[video]'")

from fakes import tiny_catalog
from shoprank.catalog import Catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service import create_app
from shoprank.types import Product
from video_clips import make_clip


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("video-queries")
    cat = tiny_catalog(folder / "cat")
    make_clip([("blue", 1), ("yellow", 2)], folder / "cat" / "lamp.mp4")
    products = [*cat.products, Product(id="lamp", title="Desk Lamp", videos=[str(folder / "cat" / "lamp.mp4")])]
    s = Settings(home=folder / "home", text_encoder="hashing", image_encoder="palette", profile_store="memory",
                 rate_search_per_s=0, video_max_seconds=20)
    engine = ShopRank.build(Catalog(products), s.index_dir("tiny"), s)
    with TestClient(create_app(engine)) as c:
        yield c


def _search(client, clip: bytes, **extra):
    return client.post("/search", data={"k": "10", "explain": "true"},
                       files={"video": ("q.mp4", clip, "video/mp4"), **extra})


def test_a_video_query_finds_the_product_whose_video_it_shows(client):
    r = _search(client, make_clip([("yellow", 1), ("yellow", 1)], size=(48, 48)))
    assert r.status_code == 200, r.text
    body = r.json()
    assert "video" in body["retrievers"] and "image" in body["retrievers"]
    lamp = next(x for x in body["results"] if x["id"] == "lamp")
    assert lamp["retrievers"]["video"] == 1 and lamp["video_url"] == "/videos/lamp/0"
    assert lamp["video_reason"] in {"frame at 0:01 matched your photo", "frame at 0:02 matched your photo"}


def test_frames_of_several_colours_pool_into_one_query(client):
    one = _search(client, make_clip([("green", 2)])).json()["results"]
    two = _search(client, make_clip([("green", 1), ("red", 1)])).json()["results"]
    assert one[0]["id"] != "lamp" and [x["id"] for x in one] != [x["id"] for x in two]


@pytest.mark.parametrize("clip, why", [(b"not a video at all", "not a video"), (b"", "empty"),
                                       (b"\0\0\0\x18ftypisom" + bytes(300), "does not decode")])
def test_a_refused_clip_is_a_422_with_its_reason(client, clip, why):
    t0 = time.monotonic()
    r = _search(client, clip)
    assert r.status_code == 422 and why in r.json()["detail"] and time.monotonic() - t0 < 2


def test_a_clip_over_the_bounds_is_refused(client):
    r = _search(client, make_clip([("red", 21)], fps=2))
    assert r.status_code == 422 and "at most 20 s" in r.json()["detail"]


def test_a_photo_and_a_video_together_are_refused(client):
    r = _search(client, make_clip([("red", 1)]), image=("q.png", b"\x89PNG\r\n\x1a\n", "image/png"))
    assert r.status_code == 422 and "not both" in r.json()["detail"]
