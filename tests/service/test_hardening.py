"""Hostile and careless requests get a 4xx with a reason (never a 500); keys, scopes, rate limits,
CORS and security headers. Each case here was a 500, a silent success or an open door before."""
from __future__ import annotations

import copy
import io
import struct
import sys
import time
import zlib

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import SecretStr

from shoprank.lazy import Lazy
from shoprank.service import create_app
from shoprank.service.security import RateLimiter, user_token

ADMIN, EVENTS, SEARCH = "admin-key-123", "events-key-456", "search-key-789"


def _engine(fake_engine, **settings):
    """The fake engine (sharing its index) with other settings."""
    engine = copy.copy(fake_engine)
    engine.settings = fake_engine.settings.model_copy(update=settings)
    return engine


@pytest.fixture(scope="module")
def client(fake_engine):
    with TestClient(create_app(_engine(fake_engine, rate_search_per_s=0, rate_events_per_s=0))) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(fake_engine):
    engine = _engine(fake_engine, admin_key=SecretStr(ADMIN), events_key=SecretStr(EVENTS),
                     search_key=SecretStr(SEARCH), public_scopes=["search"], rate_search_per_s=0,
                     rate_events_per_s=0)
    with TestClient(create_app(engine)) as c:
        yield c


def png_header_bomb(width: int, height: int) -> bytes:
    """A valid, tiny (1-bit, all-black) PNG of ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes((width + 7) // 8)
    z = zlib.compressobj(9)
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = png_header_bomb(12_000, 12_000)
    assert len(data) < 100_000
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == (12_000, 12_000)
    return data


# -- malformed bodies -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/search", "/events"])
@pytest.mark.parametrize("raw,needle", [
    (b'{"q": "bag \xff\xfe"}', "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"q": "bag", "price_min": NaN}', "NaN"),
    (b'{"q": "bag", "price_max": 1e400}', "out of range"),
    (b'{"q": ' + b"1" * 5000 + b"}", "not valid JSON"),
    (b"{not json", "not valid JSON"),
])
def test_malformed_json_is_400(client, path, raw, needle):
    r = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


def test_a_bom_is_allowed(client):
    r = client.post("/search", content=b'\xef\xbb\xbf{"q": "backpack"}', headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text


def test_body_over_the_limit_is_refused_before_reading(client, fake_engine):
    limit = fake_engine.settings.max_body_bytes
    big = b'{"q": "' + b"a" * limit + b'"}'
    r = client.post("/events", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and str(limit) in r.json()["detail"]

    def chunks():  # no Content-Length: the guard counts while reading
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    r = client.post("/search", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text


def test_upload_over_the_limit_is_413(client, fake_engine):
    data = b"\xff\xd8" + b"\0" * (fake_engine.settings.max_upload_bytes + 10)
    r = client.post("/search", files={"image": ("x.jpg", data, "image/jpeg")})
    assert r.status_code == 413, r.text


def test_multipart_without_closing_boundary_is_400(client):
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="q"\r\n\r\nbackpack\r\n'
            b'--XyZ\r\nContent-Disposition: form-data; name="colors"\r\n\r\nred')
    r = client.post("/search", content=body, headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 400 and "closing boundary" in r.json()["detail"]
    r = client.post("/search", content=body + b"\r\n--XyZ--\r\n",
                    headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert r.status_code == 200 and r.json()["results"][0]["title"].startswith("Red")


@pytest.mark.parametrize("fields,needle", [
    ({"q": "bag", "in_stock": "0"}, "in_stock: give true or false"),
    ({"q": "bag", "explain": "yes"}, "explain: give true or false"),
])
def test_form_booleans_are_true_or_false(client, fields, needle):
    r = client.post("/search", data=fields, files={"x": ("x", b"")})
    assert r.status_code == 422 and needle in r.json()["detail"]
    assert client.post("/search", data={**fields, list(fields)[1]: "true"}, files={"x": ("x", b"")}).status_code == 200


def test_an_empty_named_upload_is_422_and_an_unused_input_is_absent(client):
    r = client.post("/search", data={"q": "bag"}, files={"audio": ("voice.webm", b"", "audio/webm")})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    assert client.post("/search", data={"q": "bag"}, files={"image": ("", b"", "application/octet-stream")}
                       ).status_code == 200


def test_json_types_are_the_schemas(client):
    for body in ({"q": "bag", "price_max": False}, {"q": "bag", "colors": "red"}, {"q": "bag", "k": "5"}):
        assert client.post("/search", json=body).status_code == 422, body


# -- events -------------------------------------------------------------------------------------
@pytest.mark.parametrize("ts,needle", [
    (1795345459457, "looks like milliseconds"),
    (0, "before 2000-01-01"),
    (-5, "greater than or equal to 0"),
    (4_000_000_000, "in the future"),
    (1e300, "looks like milliseconds"),
])
def test_implausible_event_times_are_rejected_with_a_reason(client, fake_engine, ts, needle):
    pid = next(iter(fake_engine.artifacts.catalog)).id
    body = [{"user_id": "timely", "product_id": pid, "type": "click", "ts": ts},
            {"user_id": "timely", "product_id": pid, "type": "click"}]
    r = client.post("/events", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1 and needle in r.json()["rejected"][0]["reason"]
    only = client.post("/events", json=body[:1])
    assert only.status_code == 422 and needle in only.json()["detail"]
    assert client.post("/search", json={"q": "backpack", "user_id": "timely"}).status_code == 200


def test_event_time_in_seconds_is_accepted(client, fake_engine):
    pid = next(iter(fake_engine.artifacts.catalog)).id
    r = client.post("/events", json={"user_id": "on-time", "product_id": pid, "type": "cart", "ts": time.time() - 60})
    assert r.status_code == 200 and r.json()["accepted"] == 1


# -- photos -------------------------------------------------------------------------------------
def test_decompression_bomb_is_413_without_decoding(client, bomb):
    r = client.post("/search", files={"image": ("bomb.png", bomb, "image/png")})
    assert r.status_code == 413 and "12000x12000" in r.json()["detail"]
    # Above Pillow's own bomb limit too (it raises before we look at the size).
    r = client.post("/search", files={"image": ("bomb.png", png_header_bomb(20_000, 20_000), "image/png")})
    assert r.status_code == 413, r.text


def test_a_big_jpeg_is_decoded_reduced_not_refused(client):
    buf = io.BytesIO()
    Image.new("RGB", (6000, 4000), (200, 30, 30)).save(buf, "JPEG", quality=50)  # 24 MP > the 16 MP bound
    r = client.post("/search", files={"image": ("big.jpg", buf.getvalue(), "image/jpeg")}, data={"k": "3"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("data", [b"GIF89a\x01\x00\x01\x00", b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
                                  b"\xff\xd8\xff\xe0" + b"\0" * 100])
def test_truncated_images_are_422(client, data):
    r = client.post("/search", files={"image": ("x", data, "application/octet-stream")})
    assert r.status_code == 422 and "not a readable image" in r.json()["detail"]


# -- minor ----------------------------------------------------------------------------------------
def test_blank_query_and_category_browse_nothing(client):
    r = client.post("/search", json={"q": "", "category": ""})
    assert r.status_code == 422 and "give a text query" in r.json()["detail"]
    r = client.post("/search", json={"q": "  ", "category": "Bags"})
    assert r.status_code == 200 and r.json()["results"]


def test_timings_include_encoding(client):
    t = client.post("/search", json={"q": "red backpack"}).json()["timings_ms"]
    assert {"encode", "pipeline", "total"} <= set(t) and t["total"] >= t["encode"] + t["pipeline"] - 0.01


def test_query_validation_errors_are_one_sentence(client):
    r = client.get("/suggest", params={"q": "ba", "k": 0})
    assert r.status_code == 422 and isinstance(r.json()["detail"], str) and "k" in r.json()["detail"]


def test_missing_optional_extra_is_503_naming_it(fake_engine, monkeypatch):
    from shoprank import factory

    for module in ("faster_whisper", "pocketsphinx", "av"):
        monkeypatch.setitem(sys.modules, module, None)  # as if the voice extra were not installed
    engine = _engine(fake_engine)
    engine.models._speech = Lazy(lambda: factory.speech(engine.settings))
    with TestClient(create_app(engine)) as c:
        r = c.post("/search", files={"audio": ("q.wav", b"RIFF" + b"\0" * 100, "audio/wav")})
    assert r.status_code == 503 and "shoprank[voice]" in r.json()["detail"]


# -- keys and scopes ------------------------------------------------------------------------------
def test_open_dev_server_says_so(fake_engine, caplog):
    with caplog.at_level("WARNING"), TestClient(create_app(_engine(fake_engine))) as c:
        assert c.get("/users/u1/profile").status_code == 200
    assert "no API key is set" in caplog.text


def test_prod_refuses_to_start_without_admin_key(fake_engine):
    with pytest.raises(RuntimeError, match="SHOPRANK_ADMIN_KEY"):
        create_app(_engine(fake_engine, env="prod"))
    app = create_app(_engine(fake_engine, env="prod", admin_key=SecretStr(ADMIN)))
    with TestClient(app) as c:
        assert c.get("/docs").status_code == 404  # docs off in prod by default
        assert c.post("/search", json={"q": "bag"}).status_code == 200  # search is public
        assert c.post("/events", json={"user_id": "u", "product_id": "x", "type": "click"}).status_code == 401


@pytest.mark.parametrize("method,path,body,public,events,admin", [
    ("post", "/search", {"q": "bag"}, 200, 200, 200),
    ("get", "/suggest?q=ba", None, 200, 200, 200),
    ("post", "/events", {"user_id": "u9", "product_id": "demo-backpack-red", "type": "click"}, 401, 200, 200),
    ("get", "/users/u9/profile", None, 401, 403, 200),
    ("get", "/users/u9/recommendations", None, 401, 403, 200),
    ("delete", "/users/u9", None, 401, 403, 200),
    ("post", "/admin/reload", None, 401, 403, 200),
])
def test_scopes(keyed, method, path, body, public, events, admin):
    def call(key):
        headers = {"X-API-Key": key} if key else {}
        return getattr(keyed, method)(path, headers=headers, **({"json": body} if body else {}))

    assert call(None).status_code == public
    assert call(EVENTS).status_code == events
    assert call(ADMIN).status_code == admin
    bad = call("wrong-key")
    assert bad.status_code == 401 and "unknown API key" in bad.json()["detail"]
    if public != 200:
        assert "X-API-Key" in call(None).json()["detail"] or "scope" in call(None).json()["detail"]


def test_a_shopper_token_opens_their_own_data_only(keyed):
    token = user_token(ADMIN, "alice")
    assert keyed.get("/users/alice/profile", headers={"X-User-Token": token}).status_code == 200
    assert keyed.delete("/users/alice", headers={"X-User-Token": token}).status_code == 200
    r = keyed.get("/users/bob/profile", headers={"X-User-Token": token})
    assert r.status_code == 403 and "does not belong" in r.json()["detail"]


def test_search_key_cannot_send_events(keyed):
    r = keyed.post("/events", headers={"X-API-Key": SEARCH},
                   json={"user_id": "u", "product_id": "demo-backpack-red", "type": "click"})
    assert r.status_code == 403 and "'events' scope" in r.json()["detail"]


# -- limits, CORS, headers -------------------------------------------------------------------------
def test_rate_limit_is_429_with_retry_after(fake_engine):
    with TestClient(create_app(_engine(fake_engine, rate_search_per_s=2.0))) as c:
        codes = [c.get("/suggest", params={"q": "ba"}).status_code for _ in range(8)]
        assert codes[:4] == [200] * 4 and codes[-1] == 429  # a burst of 2 s worth, then refused
        r = c.get("/suggest", params={"q": "ba"})
        assert int(r.headers["Retry-After"]) >= 1 and "rate limit" in r.json()["detail"]
        # Another client (API key) has its own bucket; /health is never limited.
        assert c.get("/health").status_code == 200


def test_rate_limiter_refills_and_forgets_old_clients():
    lim = RateLimiter({"search": 1.0}, max_clients=3)
    assert [lim.wait("search", "a", now=0.0) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert lim.wait("search", "a", now=1.0) == 0.0
    for c in "bcde":
        lim.wait("search", c, now=1.0)
    assert len(lim._buckets) == 3 and ("search", "a") not in lim._buckets
    assert lim.wait("events", "a") == 0.0  # no limit set for that scope


def test_cors_is_same_origin_unless_configured(fake_engine, client):
    pre = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/search", headers=pre).headers
    app = create_app(_engine(fake_engine, cors_origins=["https://shop.example"]))
    with TestClient(app) as c:
        ok = c.options("/search", headers={**pre, "Origin": "https://shop.example"})
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        assert "access-control-allow-origin" not in c.options("/search", headers=pre).headers


def test_security_headers(client):
    r = client.get("/")
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert client.post("/search", json={}).headers["x-content-type-options"] == "nosniff"


def test_openapi_declares_bodies_errors_and_keys(keyed):
    spec = keyed.get("/openapi.json").json()
    search = spec["paths"]["/search"]["post"]
    assert set(search["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"400", "401", "403", "413", "422", "429"} <= set(search["responses"])
    assert "requestBody" in spec["paths"]["/events"]["post"]
    assert {"searchKey", "eventsKey", "adminKey", "userToken"} <= set(spec["components"]["securitySchemes"])
    assert search["security"][0] == {}  # search is public here: a key is optional
    assert {} not in spec["paths"]["/events"]["post"]["security"]
    for name in ("SearchRequest", "SearchForm", "Event", "EventBatch", "ErrorResponse"):
        assert name in spec["components"]["schemas"]


def test_cli_user_token_and_prod_refusal(fake_engine, fake_settings, monkeypatch):
    from typer.testing import CliRunner

    from shoprank.cli import app
    from shoprank.config import get_settings

    monkeypatch.setenv("SHOPRANK_HOME", str(fake_settings.home))
    monkeypatch.setenv("SHOPRANK_TEXT_ENCODER", "hashing")
    monkeypatch.setenv("SHOPRANK_IMAGE_ENCODER", "palette")
    monkeypatch.setenv("SHOPRANK_ADMIN_KEY", ADMIN)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["user-token", "alice"])
        assert r.exit_code == 0 and r.stdout.strip() == user_token(ADMIN, "alice")
        monkeypatch.delenv("SHOPRANK_ADMIN_KEY")
        monkeypatch.setenv("SHOPRANK_ENV", "prod")
        get_settings.cache_clear()
        r = CliRunner().invoke(app, ["serve", "--name", "demo"])
        assert r.exit_code == 2 and "SHOPRANK_ADMIN_KEY" in r.output and "Traceback" not in r.output
        r = CliRunner().invoke(app, ["serve", "--name", "no-such-index"])
        assert r.exit_code == 2 and "no shoprank index" in r.output and "Traceback" not in r.output
    finally:
        get_settings.cache_clear()


def test_an_image_path_that_is_not_an_image_is_never_served(fake_engine, tmp_path):
    # An index built before importers confined photos may name any file: it is not sent.
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    engine = _engine(fake_engine)
    product = fake_engine.artifacts.catalog.get("demo-backpack-red")
    poisoned = product.model_copy(update={"images": [str(secret), *product.images]})
    engine.product = lambda pid: poisoned if pid == product.id else fake_engine.product(pid)  # type: ignore
    with TestClient(create_app(engine)) as c:
        assert c.get(f"/images/{product.id}/0").status_code == 404
        ok = c.get(f"/images/{product.id}/1")
        assert ok.status_code == 200 and ok.headers["content-type"].startswith("image/")
