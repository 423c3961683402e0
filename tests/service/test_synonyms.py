"""Synonym sets over HTTP: an edit changes the very next search, in this process at once and in
another serving the same index within a second; it survives a restart; bad bodies are a 422."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service import create_app

ADMIN = {"X-API-Key": "adm"}


@pytest.fixture
def settings(tmp_path):
    return Settings(home=tmp_path, text_encoder="hashing", image_encoder="none", profile_store="memory",
                    rate_search_per_s=0.0, admin_key=SecretStr("adm"))


@pytest.fixture
def index(settings, demo_catalog):
    ShopRank.build(demo_catalog, settings.index_dir("demo"), settings)
    return settings.index_dir("demo")


def client_for(index, settings) -> TestClient:
    return TestClient(create_app(ShopRank.open(index, settings)))


def search(client: TestClient, q: str) -> dict:
    r = client.post("/search", json={"q": q, "k": 5})
    assert r.status_code == 200, r.text
    return r.json()


def titles(res: dict) -> list[str]:
    return [h["title"].lower() for h in res["results"]]


def test_a_put_changes_the_very_next_search_and_a_delete_undoes_it(index, settings):
    with client_for(index, settings) as c:
        before = search(c, "rucksack")
        assert before["rewrites"] == [] and not any("backpack" in t for t in titles(before)[:1])
        r = c.put("/admin/synonyms/bags", json={"terms": ["rucksack", "backpack", "knapsack"]}, headers=ADMIN)
        assert r.status_code == 200 and r.json()["description"] == "rucksack = backpack = knapsack"
        after = search(c, "rucksack")
        assert [(w["text"], w["origin"], w["reason"]) for w in after["rewrites"]] == [
            ("backpack", "synonym", "rucksack = backpack"), ("knapsack", "synonym", "rucksack = knapsack")]
        assert after["searched"] == "rucksack" and "backpack" in titles(after)[0]
        listed = c.get("/admin/synonyms", headers=ADMIN).json()
        assert [(s["id"], s["terms"], s["input"]) for s in listed["synonyms"]] == [
            ("bags", ["rucksack", "backpack", "knapsack"], None)]
        assert c.delete("/admin/synonyms/bags", headers=ADMIN).json()["synonyms"] == []
        assert search(c, "rucksack")["rewrites"] == []
        assert c.delete("/admin/synonyms/bags", headers=ADMIN).status_code == 404


def test_a_one_way_set_and_a_cross_language_one(index, settings):
    with client_for(index, settings) as c:
        r = c.put("/admin/synonyms/tee", json={"input": "tee", "terms": ["t-shirt"]}, headers=ADMIN)
        assert r.status_code == 200 and r.json()["description"] == "tee → t-shirt"
        assert [w["text"] for w in search(c, "white tee")["rewrites"]] == ["white t-shirt"]
        assert search(c, "white t-shirt")["rewrites"] == []
        c.put("/admin/synonyms/zh-bag", json={"terms": ["背包", "rucksack"]}, headers=ADMIN)
        res = search(c, "rucksack")
        assert [w["text"] for w in res["rewrites"]] == ["背包"] and "backpack" in titles(res)[0]


@pytest.mark.parametrize(("body", "says"), [
    ({"terms": ["bag"]}, "at least two different terms"),
    ({"input": "tee", "terms": ["TEE"]}, "a term other than its input"),
    ({"terms": "bag, backpack"}, "terms"),
    ({"terms": ["a", "b"], "boost": 2}, "boost"),
    ({"terms": ["a", 3]}, "terms.1"),
    ({"terms": ["a", "b" * 101]}, "terms.1"),
    (["a", "b"], "body must be a synonym set object"),
])
def test_a_bad_body_is_a_422_with_the_reason(index, settings, body, says):
    with client_for(index, settings) as c:
        r = c.put("/admin/synonyms/x", json=body, headers=ADMIN)
        assert r.status_code == 422 and says in r.json()["detail"], r.text
        assert c.get("/admin/synonyms", headers=ADMIN).json()["synonyms"] == []


def test_a_bad_id_is_a_422_and_the_admin_key_is_needed(index, settings):
    with client_for(index, settings) as c:
        assert c.put("/admin/synonyms/a%20b", json={"terms": ["a", "b"]}, headers=ADMIN).status_code == 422
        assert c.get("/admin/synonyms").status_code == 401
        assert c.put("/admin/synonyms/x", json={"terms": ["a", "b"]}).status_code == 401
        assert c.delete("/admin/synonyms/x", headers={"X-API-Key": "nope"}).status_code == 401


@pytest.mark.slow  # waits out the re-read interval
def test_the_sets_survive_a_restart_and_reach_another_process_within_a_second(index, settings):
    other = ShopRank.open(index, settings)  # a second server of the same index, started first
    assert other.search("rucksack").rewrites == []
    with client_for(index, settings) as c:
        c.put("/admin/synonyms/bags", json={"terms": ["rucksack", "backpack"]}, headers=ADMIN)
    deadline = time.monotonic() + 3
    while not other.search("rucksack").rewrites and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r.text for r in other.search("rucksack").rewrites] == ["backpack"]
    with client_for(index, settings) as c:  # a restart: a new engine over the same home
        assert [w["text"] for w in search(c, "rucksack")["rewrites"]] == ["backpack"]
        assert [s["id"] for s in c.get("/admin/synonyms", headers=ADMIN).json()["synonyms"]] == ["bags"]


def test_pinyin_over_http_finds_what_the_chinese_finds(index, settings):
    pytest.importorskip("pypinyin")
    with client_for(index, settings) as c:
        by_pinyin, by_chinese = search(c, "beibao"), search(c, "背包")
        assert by_pinyin["searched"] == "背包" and by_pinyin["rewrites"][0]["origin"] == "pinyin"
        assert [h["id"] for h in by_pinyin["results"]] == [h["id"] for h in by_chinese["results"]]
        assert search(c, "bag")["rewrites"] == [] and search(c, "pants")["rewrites"] == []


def test_suggested_synonyms_come_from_the_logs_and_are_not_applied(index, settings):
    with client_for(index, settings) as c:
        def shop(session: str, q: str, clicked: bool) -> None:
            r = c.post("/search", json={"q": q, "k": 5, "session_id": session})
            if clicked:
                pid = next(h["id"] for h in r.json()["results"] if "backpack" in h["title"].lower())
                ev = {"session_id": session, "product_id": pid, "type": "click", "search_id": r.json()["search_id"]}
                assert c.post("/events", json=ev, headers=ADMIN).json()["accepted"] == 1

        for s in ("s1", "s2", "s3"):
            shop(s, "trail rucksack", clicked=False)  # nothing worth clicking...
            shop(s, "trail backpack", clicked=True)   # ...so the shopper asks again
        r = c.get("/admin/synonyms:suggested", params={"min_support": 2}, headers=ADMIN)
        assert r.status_code == 200, r.text
        top = r.json()["suggestions"][0]
        assert top["terms"] == ["backpack", "rucksack"] and top["reformulations"] == 3 and top["support"] >= 3
        assert search(c, "rucksack")["rewrites"] == []  # suggested, never applied
        c.put("/admin/synonyms/bags", json={"terms": top["terms"]}, headers=ADMIN)  # approved
        assert c.get("/admin/synonyms:suggested", params={"min_support": 2}, headers=ADMIN).json()["suggestions"] == []
        assert c.get("/admin/synonyms:suggested").status_code == 401
