"""Whom rate limits count (X-Forwarded-For behind trusted proxies), unknown keys, and photo caching."""
from __future__ import annotations

import copy

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.requests import Request

from shoprank.service import create_app
from shoprank.service.security import Access

SEARCH = "search-key-sec"


def _engine(fake_engine, **settings):
    engine = copy.copy(fake_engine)
    engine.settings = fake_engine.settings.model_copy(update=settings)
    return engine


def _request(forwarded: list[str], peer: str = "10.0.0.1") -> Request:
    headers = [(b"x-forwarded-for", v.encode()) for v in forwarded]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1234)})


@pytest.mark.parametrize("proxies,forwarded,client", [
    (1, ["6.6.6.6, 203.0.113.7"], "203.0.113.7"),  # the client wrote 6.6.6.6; the proxy appended the rest
    (1, ["203.0.113.7"], "203.0.113.7"),
    (2, ["6.6.6.6, 203.0.113.7, 10.0.0.2"], "203.0.113.7"),  # two proxies: the outer one's entry
    (2, ["6.6.6.6", "203.0.113.7, 10.0.0.2"], "203.0.113.7"),  # header repeated: one list
    (3, ["203.0.113.7"], "203.0.113.7"),
    (1, [], "10.0.0.1"),
])
def test_forwarded_for_takes_the_entry_the_trusted_proxy_appended(fake_settings, proxies, forwarded, client):
    access = Access(fake_settings.model_copy(update={"trust_forwarded_for": True, "forwarded_proxies": proxies}))
    assert access.address(_request(forwarded)) == client
    assert Access(fake_settings).address(_request(forwarded)) == "10.0.0.1"  # untrusted: the peer


def test_a_spoofed_first_forwarded_entry_does_not_escape_the_rate_limit(fake_engine):
    app = create_app(_engine(fake_engine, rate_search_per_s=2.0, trust_forwarded_for=True))
    with TestClient(app) as c:
        codes = [c.get("/suggest", params={"q": "ba"},
                       headers={"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7"}).status_code for i in range(12)]
    assert codes[:4] == [200] * 4 and codes.count(429) >= 7, codes


def test_unknown_keys_are_rate_limited(fake_engine):
    app = create_app(_engine(fake_engine, search_key=SecretStr(SEARCH), admin_key=SecretStr("adm"),
                             rate_search_per_s=2.0))
    with TestClient(app) as c:
        codes = [c.get("/suggest", params={"q": "ba"}, headers={"X-API-Key": f"guess-{i}"}).status_code
                 for i in range(12)]
        assert codes[:4] == [401] * 4 and codes.count(429) >= 7, codes
        assert c.get("/suggest", params={"q": "ba"}, headers={"X-API-Key": SEARCH}).status_code == 200


@pytest.mark.parametrize("public,cache", [(["search"], "public"), ([], "private")])
def test_photos_are_cached_publicly_only_when_search_is_public(fake_engine, public, cache):
    app = create_app(_engine(fake_engine, search_key=SecretStr(SEARCH), admin_key=SecretStr("adm"),
                             public_scopes=public, rate_search_per_s=0))
    with TestClient(app) as c:
        r = c.get("/images/demo-coffee-mug-blue/0", headers={"X-API-Key": SEARCH})
        assert r.status_code == 200 and r.headers["cache-control"] == f"{cache}, max-age=86400"


def test_head_is_answered_like_get_without_a_body(fake_engine):
    with TestClient(create_app(_engine(fake_engine))) as c:
        r = c.head("/")
        assert r.status_code == 200 and r.content == b""
        assert int(r.headers["content-length"]) == len(c.get("/").content)
        assert c.head("/health").status_code == 200
