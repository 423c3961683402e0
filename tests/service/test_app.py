"""The HTTP API in process (FastAPI's test client) over the fake demo index: the fast tier."""
from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from shoprank.service import create_app


@pytest.fixture(scope="module")
def client(fake_engine):
    with TestClient(create_app(fake_engine)) as c:
        yield c


def test_health_page_and_text_search(client):
    assert client.get("/health").json()["products"] == 54
    assert 'id="photo"' in client.get("/").text
    body = client.post("/search", json={"q": "red backpack", "k": 3, "explain": True}).json()
    first = body["results"][0]
    assert first["id"] == "demo-backpack-red" and first["explanation"] and "bm25" in first["retrievers"]
    assert body["parsed"]["colors"] == ["red"] and body["timings_ms"]["pipeline"] > 0
    img = client.get(first["image_url"])
    assert img.status_code == 200 and img.headers["content-type"].startswith("image/")


def test_photo_search_multipart_and_product_pages(client, fake_engine):
    photo = open(fake_engine.artifacts.catalog.get("demo-coffee-mug-blue").images[0], "rb").read()
    r = client.post("/search", data={"k": "3"}, files={"image": ("mug.png", photo, "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["results"][0]["id"] == "demo-coffee-mug-blue" and body["photo_labels"][0][0] == "blue"
    p = client.get("/products/demo-coffee-mug-blue").json()
    assert p["photo_labels"] == [[["blue", 1.0]]]
    sim = client.get("/similar/demo-coffee-mug-blue", params={"k": 4}).json()["results"]
    assert len(sim) == 4 and "demo-coffee-mug-blue" not in [x["id"] for x in sim]
    cats = {c["path"]: c["count"] for c in client.get("/categories").json()["categories"]}
    assert cats["Bags"] == 12


@pytest.mark.parametrize("kwargs,status,needle", [
    ({"json": {}}, 422, "give a text query"),
    ({"json": {"q": "bag", "k": 0}}, 422, "k"),
    ({"json": {"q": "bag", "fusion": "magic"}}, 422, "fusion"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
    ({"files": {"image": ("x.jpg", b"not an image", "image/jpeg")}}, 422, "not a readable image"),
])
def test_bad_requests_get_4xx_with_reason(client, kwargs, status, needle):
    r = client.post("/search", **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_facets_filters_sorting(client):
    body = client.post("/search", json={"q": "bag", "k": 10}).json()
    assert {"category", "color", "price", "rating"} <= set(body["facets"])
    blue = client.post("/search", json={"q": "bag", "k": 10, "colors": ["blue"]}).json()["results"]
    assert blue and all("Blue" in x["title"] for x in blue)
    cheap = client.post("/search", json={"q": "backpack", "k": 6, "sort": "price_asc"}).json()["results"]
    assert [x["price"] for x in cheap] == sorted(x["price"] for x in cheap)


def test_events_personalize_the_next_search_and_forget(client):
    user = "app-ana"
    before = client.post("/search", json={"q": "red", "k": 5, "user_id": user}).json()
    assert not before["personalized"]
    r = client.post("/events", json={"events": [
        {"user_id": user, "product_id": "demo-coffee-mug-red", "type": "purchase", "query": "red mug"},
        {"user_id": user, "product_id": "nope", "type": "click"}]})
    assert r.status_code == 200 and r.json()["accepted"] == 1 and r.json()["rejected"][0]["index"] == 1
    after = client.post("/search", json={"q": "red", "k": 5, "user_id": user}).json()
    assert after["personalized"] and after["results"][0]["id"] == "demo-coffee-mug-red"
    assert client.get(f"/users/{user}/profile").json()["n_events"] == 1
    assert client.delete(f"/users/{user}").json()["events_deleted"] == 1
    assert not client.post("/search", json={"q": "red", "k": 5, "user_id": user}).json()["personalized"]


def test_suggest_and_404s(client):
    texts = [s["text"] for s in client.get("/suggest", params={"q": "yog"}).json()["suggestions"]]
    assert any("Yoga" in t for t in texts)
    assert client.get("/products/nope").status_code == 404
    assert client.get("/similar/nope").status_code == 404
    assert client.get("/images/demo-coffee-mug-red/9").status_code == 404


def test_search_threads_bounds_concurrent_searches(fake_engine):
    """16 requests at once run at most ``search_threads`` searches at a time; the rest queue."""
    import asyncio
    import copy
    import threading
    import time

    import httpx

    engine = copy.copy(fake_engine)  # shares the index; its own settings and search below
    engine.settings = fake_engine.settings.model_copy(update={"search_threads": 2})
    running, peak, lock = 0, 0, threading.Lock()
    search = fake_engine.search

    def counted(query):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)  # long enough that unbounded requests would overlap
        try:
            return search(query)
        finally:
            with lock:
                running -= 1

    engine.search = counted
    engine.experiments = copy.copy(fake_engine.experiments)  # serves searches through the counted search
    engine.experiments._search = lambda query, ranker: counted(query)

    async def burst() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(engine))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            rs = await asyncio.gather(*(c.post("/search", json={"q": "red backpack", "k": 3}) for _ in range(16)))
        return [r.status_code for r in rs]

    assert asyncio.run(burst()) == [200] * 16
    assert peak == 2


def _matching(body):
    flags = [r["match"] for r in body["results"]]
    assert flags == sorted(flags, reverse=True), "matches come before the padding"
    return sum(flags)


def test_facets_count_the_matches_and_padding_is_flagged(client):
    # "red backpack": 11 keyword matches on the demo catalog; 24 asked, so 13 hits are padding.
    body = client.post("/search", json={"q": "red backpack", "k": 24}).json()
    shown = _matching(body)
    assert body["matches"] == shown == sum(f["count"] for f in body["facets"]["category"]) == 11
    assert len(body["results"]) == 24 and not body["results"][-1]["match"]
    assert all(r["match"] for r in body["results"][:11])


def test_a_sort_lists_keyword_matches_and_relevance_keeps_the_rankers_order(client):
    rel = client.post("/search", json={"q": "red backpack", "k": 54}).json()
    flags = [r["match"] for r in rel["results"]]
    assert flags == sorted(flags, reverse=True)  # the matches are the ranking's head
    cheap = client.post("/search", json={"q": "red backpack", "k": 54, "sort": "price_asc"}).json()
    listed = [r for r in cheap["results"] if r["match"]]
    # Sorted by price, only keyword matches are listed as matches: no cheap unrelated item first.
    assert listed and all("bm25" in r["retrievers"] for r in listed)
    assert cheap["matches"] == len(listed) == sum(f["count"] for f in cheap["facets"]["category"])
    prices = [r["price"] for r in listed]
    assert prices == sorted(prices)


def test_photo_search_matches_what_looks_alike(client, fake_engine):
    photo = open(fake_engine.artifacts.catalog.get("demo-backpack-red").images[0], "rb").read()
    body = client.post("/search", data={"k": "24"}, files={"image": ("bag.png", photo, "image/png")}).json()
    # The palette encoder sees colour: the six red products match, the rest pad the page.
    assert _matching(body) == body["matches"] == 6
    assert {f["value"]: f["count"] for f in body["facets"]["color"]} == {"red": 6}
    assert sum(f["count"] for f in body["facets"]["category"]) == 6


def test_a_yuan_limit_is_not_read_as_dollars(client):
    parsed = client.post("/search", json={"q": "红色背包 50元以下", "k": 3}).json()["parsed"]
    assert parsed["price_max"] is None and "prices are in USD" in parsed["price_note"]


def test_category_suggestion_reads_as_a_path(client):
    got = client.get("/suggest", params={"q": "bags b"}).json()["suggestions"]
    assert {"text": "Bags › Backpacks", "kind": "category", "product_id": None, "category": "Bags/Backpacks"} in got


@pytest.mark.parametrize("path", ["/", "/analytics"])
def test_pages_run_only_their_served_scripts(client, path):
    r = client.get(path)
    directives = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert directives["script-src"] == "'self'"
    html = r.text
    assert "<script>" not in html and not re.search(r"\son[a-z]+\s*=", html), "inline script or handler"
    scripts = re.findall(r'<script src="([^"]+)"></script>', html)
    assert scripts
    for src in scripts:
        js = client.get(src)
        assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
        assert "addEventListener" in js.text and not re.search(r"['\"<]\s*\bon[a-z]+=", js.text)
    assert client.get("/static/index.html").status_code == 404
