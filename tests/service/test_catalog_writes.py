"""PUT/PATCH/DELETE /products and bulk NDJSON over HTTP: admin only, validated like the importer,
visible to the next request; deleted products never come back."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from fakes import MARKER, photo, shop_catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service import create_app

ADMIN = "admin-key-catalog"
H = {"X-API-Key": ADMIN}
NDJSON = {**H, "content-type": "application/x-ndjson"}


@pytest.fixture
def client(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    photo(photos / "lamp.png", "green")
    (photos / "notes.txt").write_text("not a photo")
    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="palette", profile_store="memory",
                        admin_key=SecretStr(ADMIN), rate_search_per_s=0, rate_events_per_s=0, image_root=photos,
                        catalog_poll_s=0)
    engine = ShopRank.build(shop_catalog("A", marker_at=137), settings.index_dir("shop"), settings)
    with TestClient(create_app(engine)) as c:
        yield c


def found(client: TestClient, q: str, k: int = 10) -> list[str]:
    r = client.post("/search", json={"q": q, "k": k, "collapse_variants": False})
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["results"]]


def test_put_then_search_text_and_photo(client):
    row = {"title": "Quibbleton Desk Lamp", "description": "A green lamp.", "categories": "Home/Lighting",
           "price": "29.90", "stock": 4, "images": "lamp.png"}
    r = client.put("/products/N-1", json=row, headers=H)
    assert r.status_code == 200, r.text
    assert r.json()["catalog_seq"] >= r.json()["seq"] == 1
    assert found(client, "quibbleton")[:1] == ["N-1"]
    p = client.get("/products/N-1").json()
    assert p["stock"] == 4 and p["in_stock"] and p["image_urls"] == ["/images/N-1/0"]
    assert client.get("/images/N-1/0").status_code == 200
    with open(client.app.state.engine.settings.image_root / "lamp.png", "rb") as f:
        photo_hits = client.post("/search", files={"image": ("q.png", f.read(), "image/png")},
                                 data={"k": "3"}).json()["results"]
    assert "N-1" in [x["id"] for x in photo_hits]


def test_patch_price_and_stock_in_place(client):
    r = client.patch("/products/A-0137", json={"price": 5.5, "stock": 0}, headers=H)
    assert r.status_code == 200, r.text
    p = client.get("/products/A-0137").json()
    assert p["price"] == 5.5 and p["stock"] == 0 and not p["in_stock"]
    res = client.post("/search", json={"q": MARKER, "out_of_stock_last": False}).json()["results"]
    assert res[0]["id"] == "A-0137" and res[0]["in_stock"] is False
    # Out of stock, but the one product matching the query: it stays above unrelated in-stock items.
    assert found(client, MARKER)[0] == "A-0137"
    assert "A-0137" not in [x["id"] for x in client.post("/search", json={"q": MARKER, "in_stock": True})
                            .json()["results"]]


def test_delete_everywhere(client):
    assert client.delete("/products/A-0137", headers=H).status_code == 200
    assert "A-0137" not in found(client, MARKER)
    assert client.get("/products/A-0137").status_code == 404
    assert client.get("/similar/A-0137").status_code == 404
    assert all(x["id"] != "A-0137" for x in client.get("/similar/A-0003", params={"k": 100}).json()["results"])
    assert all(s["product_id"] != "A-0137" for s in client.get("/suggest", params={"q": "zorb"}).json()["suggestions"])
    cats = {c["path"] for c in client.get("/categories").json()["categories"]}
    assert "Home/Lighting" not in cats
    assert client.delete("/products/A-0137", headers=H).status_code == 404
    assert client.post("/events", json={"user_id": "u", "product_id": "A-0137", "type": "click"},
                       headers=H).status_code == 422
    facets = client.post("/search", json={"q": "lamp", "k": 50}).json()["facets"]["category"]
    assert all("Lighting" not in f["value"] for f in facets)


def test_a_deleted_product_leaves_recommendations(client):
    # Shoppers who carted A-0003 bought A-0137: both models recommend it, until it is deleted.
    events = [e for i in range(20) for e in (
        {"user_id": f"s{i}", "product_id": "A-0003", "type": "cart", "ts": 1.7e9 + i},
        {"user_id": f"s{i}", "product_id": "A-0137", "type": "purchase", "ts": 1.7e9 + i + 1})]
    assert client.post("/events", json={"events": events}, headers=H).status_code == 200
    client.app.state.engine.personalization.train("itemitem")
    client.post("/events", json={"user_id": "fan", "product_id": "A-0003", "type": "click", "ts": 1.7e9 + 50},
                headers=H)

    def recommended() -> tuple[list[str], list[str]]:
        mine = client.get("/users/fan/recommendations", headers=H).json()["results"]
        together = client.get("/products/A-0003/bought-together").json()["results"]
        return [x["id"] for x in mine], [x["id"] for x in together]

    assert all("A-0137" in ids for ids in recommended())
    assert client.delete("/products/A-0137", headers=H).status_code == 200
    assert all("A-0137" not in ids for ids in recommended())


@pytest.mark.parametrize("method,path,body,status,needle", [
    ("put", "/products/X", {"title": ["a list"]}, 422, "title"),
    ("put", "/products/X", {"title": "Ok", "price": "inf"}, 422, "finite"),
    ("put", "/products/X", {"title": "Ok", "id": "Y"}, 422, "the path"),
    ("put", "/products/X", {"title": "Ok", "ID": "Y"}, 422, "the path"),  # any spelling of id
    ("patch", "/products/A-0001", {"Id": "B", "price": 1}, 422, "the path"),
    ("put", "/products/X", {"title": "Ok", "images": "/etc/passwd"}, 422, "outside the image folder"),
    ("put", "/products/X", {"title": "Ok", "images": "notes.txt"}, 422, "not a readable image"),
    ("put", "/products/X", [1, 2], 422, "JSON object"),
    ("patch", "/products/A-0001", {"colour": "red"}, 422, "cannot patch"),
    ("patch", "/products/A-0001", {"stock": -1}, 422, "stock"),
    ("patch", "/products/nope", {"price": 1}, 404, "no product"),
])
def test_bad_writes_are_4xx_with_a_reason(client, method, path, body, status, needle):
    r = getattr(client, method)(path, json=body, headers=H)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_put_and_patch_fold_column_names(client):
    r = client.put("/products/X", json={"ID": "X", "Title": "", "title": "Quibbleton Lamp"}, headers=H)
    assert r.status_code == 200, r.text
    assert client.get("/products/X").json()["title"] == "Quibbleton Lamp"
    r = client.patch("/products/X", json={"Id": "X", "Price": 7.5}, headers=H)
    assert r.status_code == 200, r.text
    assert client.get("/products/X").json()["price"] == 7.5


def test_writes_need_the_admin_key(client):
    assert client.put("/products/X", json={"title": "Ok"}).status_code == 401
    assert client.delete("/products/A-0001", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/products/A-0001").status_code == 200  # reading stays public


def test_bulk_applies_good_lines_and_reports_bad_ones(client):
    lines = [json.dumps({"id": "B-1", "title": "Snorkwidget Lamp", "categories": "Home/Lighting"}),
             "{not json",
             json.dumps({"id": "B-2", "title": "Snorkwidget Vase", "price": -3}),
             "",
             json.dumps({"delete": "A-0137"}),
             json.dumps({"id": "A-0001", "title": "Snorkwidget Chair", "stock": 2})]
    r = client.post("/products:bulk", content="\n".join(lines).encode(), headers=NDJSON)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 3 and [x["line"] for x in body["rejected"]] == [2, 3]
    assert set(found(client, "snorkwidget")[:2]) == {"B-1", "A-0001"}
    assert client.get("/products/A-0137").status_code == 404
    big = "\n".join(json.dumps({"id": f"C-{i}", "title": "x"}) for i in range(10_001))
    assert client.post("/products:bulk", content=big.encode(), headers=NDJSON).status_code == 413


def test_a_photo_swapped_for_a_symlink_out_of_the_image_folder_is_not_served(client, tmp_path):
    photos = tmp_path / "photos"
    photo(photos / "swap.png", "red")
    assert client.put("/products/P-1", json={"title": "Lamp", "images": "swap.png"}, headers=H).status_code == 200
    assert client.get("/images/P-1/0").status_code == 200
    outside = tmp_path / "secret.png"  # an image, so the header check alone would let it through
    photo(outside, "blue")
    (photos / "swap.png").unlink()
    (photos / "swap.png").symlink_to(outside)
    assert client.get("/images/P-1/0").status_code == 404
    (photos / "swap.png").unlink()
    (photos / "swap.png").symlink_to(photos / "lamp.png")  # still inside the image folder: fine
    assert client.get("/images/P-1/0").status_code == 200


def test_bulk_splits_lines_at_newline_only(client):
    # U+2028, U+2029 and U+0085 are legal inside JSON strings: they neither end a line nor
    # shift the numbers of the lines after them.
    lines = [json.dumps({"id": "S-1", "title": "Snorkwidget\u2028Lamp"}, ensure_ascii=False),
             json.dumps({"id": "S-2", "title": "Snorkwidget\u2029Vase\x85Big"}, ensure_ascii=False),
             "{not json"]
    r = client.post("/products:bulk", content="\n".join(lines).encode(), headers=NDJSON)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    assert [x["line"] for x in r.json()["rejected"]] == [3]
    assert "\u2028" in client.get("/products/S-1").json()["title"]


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None])
def test_writes_refuse_types_a_page_on_another_origin_sends_without_preflight(client, ctype):
    # A cross-origin page may POST these without a CORS preflight: they must change nothing.
    headers = {**H, "origin": "https://evil.example"} | ({"content-type": ctype} if ctype else {})
    body = json.dumps({"delete": "A-0001"}) + "\n" + json.dumps({"id": "E-1", "title": "Evil Thing"})
    r = client.post("/products:bulk", content=body.encode(), headers=headers)
    assert r.status_code == 415, r.text
    assert "application/x-ndjson" in r.json()["detail"]
    r = client.put("/products/E-2", content=json.dumps({"title": "Evil Thing"}).encode(), headers=headers)
    assert r.status_code == 415, r.text
    r = client.patch("/products/A-0001", content=b'{"stock": 0}', headers=headers)
    assert r.status_code == 415, r.text
    assert client.get("/products/A-0001").json()["stock"] != 0
    assert client.get("/products/E-1").status_code == 404
    assert client.get("/products/E-2").status_code == 404
    assert client.post("/products:bulk", content=body.encode(),
                       headers={**H, "content-type": "application/x-ndjson; charset=utf-8"}).status_code == 200


def test_a_second_server_on_the_index_follows_the_write_log(client):
    import time

    engine = client.app.state.engine
    settings = engine.settings.model_copy(update={"catalog_poll_s": 0.05})
    other = ShopRank.open(settings.index_dir("shop"), settings)
    with TestClient(create_app(other)) as second:
        assert client.put("/products/N-9", json={"title": "Snorkwidget Lamp"}, headers=H).status_code == 200
        t0 = time.monotonic()
        while found(second, "snorkwidget")[:1] != ["N-9"]:
            assert time.monotonic() - t0 < 5, "the second server never applied the write"
            time.sleep(0.02)
        assert second.get("/health").json()["catalog_seq"] == 1


def test_a_patch_leaves_the_other_fields_exactly_as_they_are(client):
    # A title that parsing would change again (an escaped entity): a price patch must not touch it.
    assert client.put("/products/E-1", json={"title": "Case for iPhone&amp;#174; 5"}, headers=H).status_code == 200
    engine = client.app.state.engine
    before = engine.product("E-1")
    pos = engine.artifacts.catalog.position("E-1")
    assert client.patch("/products/E-1", json={"price": 9.5}, headers=H).status_code == 200
    after = engine.product("E-1")
    assert after.title == before.title and after.price == 9.5
    assert engine.artifacts.catalog.position("E-1") == pos  # nothing re-encoded
    assert client.patch("/products/E-1", json={"title": None}, headers=H).status_code == 422
