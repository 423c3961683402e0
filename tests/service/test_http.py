"""The HTTP API, served by a real uvicorn server on a free localhost port."""
from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest
import uvicorn

from shoprank.service import create_app

from conftest import LUMA, needs_luma

pytestmark = needs_luma

PHOTO = LUMA / "images" / "product" / "m" / "b" / "mb02-gray-0.jpg"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(luma_engine):
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(luma_engine), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


def test_health_and_page(client):
    h = client.get("/health").json()
    assert h["status"] == "ok" and h["products"] == 2046
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "shoprank" in page.text and 'id="photo"' in page.text


def test_text_search_json(client):
    r = client.post("/search", json={"q": "backpack", "k": 5, "explain": True})
    assert r.status_code == 200
    body = r.json()
    assert len(body["results"]) == 5
    assert all(x["category"].startswith("Gear/Bags") for x in body["results"])
    first = body["results"][0]
    assert first["image_url"] and first["explanation"] and first["retrievers"]
    plain = client.post("/search", json={"q": "backpack", "k": 5}).json()["results"]
    assert plain[0]["explanation"] == {} and [x["id"] for x in plain] == [x["id"] for x in body["results"]]
    img = client.get(first["image_url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"


def test_image_search_multipart(client):
    with PHOTO.open("rb") as f:
        r = client.post("/search", data={"k": "3"}, files={"image": ("bag.jpg", f, "image/jpeg")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["photo_labels"][0][0] == "backpack"
    assert "image" in body["retrievers"]
    assert body["results"][0]["id"] == "24-MB02"


def test_text_and_filters_multipart(client):
    r = client.post("/search", data={"q": "jacket", "k": "5", "category": "Women", "price_max": "60"})
    assert r.status_code == 200
    assert all(x["category"].startswith("Women/") and x["price"] <= 60 for x in r.json()["results"])


def test_products_similar_categories(client):
    p = client.get("/products/24-MB02").json()
    assert p["title"] == "Fusion Backpack" and p["image_urls"]
    assert len(p["photo_labels"]) == len(p["image_urls"]) and p["photo_labels"][0][0][0] == "backpack"
    sim = client.get("/similar/24-MB02", params={"k": 4}).json()
    assert len(sim["results"]) == 4 and all(x["id"] != "24-MB02" for x in sim["results"])
    cats = {c["path"]: c["count"] for c in client.get("/categories").json()["categories"]}
    assert cats["Gear/Bags"] == 14


@pytest.mark.parametrize("kwargs,status,needle", [
    ({"json": {}}, 422, "give a text query"),
    ({"json": {"q": "bag", "k": 0}}, 422, "k"),
    ({"json": {"q": "bag", "price_min": 50, "price_max": 10}}, 422, "price_min"),
    ({"json": {"q": "bag", "fusion": "magic"}}, 422, "fusion"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
    ({"json": ["q"]}, 400, "object"),
    ({"files": {"image": ("x.jpg", b"not an image", "image/jpeg")}}, 422, "not a readable image"),
])
def test_bad_requests_get_4xx_with_reason(client, kwargs, status, needle):
    r = client.post("/search", **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_missing_things_are_404(client):
    assert client.get("/products/nope").status_code == 404
    assert client.get("/similar/nope").status_code == 404
    assert client.get("/images/24-MB02/99").status_code == 404
    assert client.get("/images/nope/0").status_code == 404
