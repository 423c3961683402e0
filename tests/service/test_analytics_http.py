"""Search ids, impressions, events tied to searches, experiments and the analytics report over HTTP
(in process, over the fake demo index: the fast tier)."""
from __future__ import annotations

import importlib.util
import json
import time

import pytest
from fastapi.testclient import TestClient

from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.service import create_app


@pytest.fixture()
def engine(demo_catalog, tmp_path):
    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="palette", profile_store="memory",
                        rate_search_per_s=0, rate_events_per_s=0)
    return ShopRank.build(demo_catalog, settings.index_dir("demo"), settings)


@pytest.fixture()
def client(engine):
    with TestClient(create_app(engine)) as c:
        yield c


def _search(client, **body):
    r = client.post("/search", json={"k": 5, **body})
    assert r.status_code == 200, r.text
    return r.json()


def test_every_search_is_logged_with_what_it_showed(client, engine):
    a = _search(client, q="red backpack", user_id="ann", session_id="s1", colors=["red"])
    b = _search(client, q="zzzz qqqq nothing", user_id="ann")
    assert a["search_id"] != b["search_id"] and len(a["search_id"]) == 32
    imp = engine.impressions.get(a["search_id"])
    assert imp.products == tuple(x["id"] for x in a["results"]) and imp.kind == "text"
    assert imp.user_id == "ann" and imp.session_id == "s1" and imp.filters == {"colors": ["red"]}
    assert imp.ranker == engine.ranker.name and imp.latency_ms > 0 and imp.arm is None
    photo = open(engine.artifacts.catalog.get("demo-coffee-mug-blue").images[0], "rb").read()
    r = client.post("/search", data={"k": "3"}, files={"image": ("mug.png", photo, "image/png")})
    assert engine.impressions.get(r.json()["search_id"]).kind == "photo"
    assert engine.impressions.count() == 3


def test_events_name_their_search_and_position(client, engine):
    s = _search(client, q="backpack", user_id="bob")
    ids = [x["id"] for x in s["results"]]
    sid = s["search_id"]
    ok = client.post("/events", json={"events": [
        {"user_id": "bob", "product_id": ids[1], "type": "click", "search_id": sid, "position": 2},
        {"user_id": "bob", "product_id": ids[2], "type": "click", "search_id": sid},   # position filled in
        {"user_id": "bob", "product_id": ids[0], "type": "click", "search_id": sid, "position": 3},  # wrong place
        {"user_id": "bob", "product_id": ids[0], "type": "click", "search_id": "f" * 32},  # never served
        {"user_id": "bob", "product_id": ids[0], "type": "click", "position": 1},  # position without a search
    ]}).json()
    assert ok["accepted"] == 2
    reasons = {r["index"]: r["reason"] for r in ok["rejected"]}
    assert set(reasons) == {2, 3, 4}
    assert "not at position 3" in reasons[2] and "no search" in reasons[3] and "search_id" in reasons[4]
    logged = [se.event for se in engine.personalizer.events.scan("bob")]
    assert [(e.search_id, e.position) for e in logged] == [(sid, 2), (sid, 3)]


def test_an_event_naming_a_search_that_did_not_show_its_product_is_refused(client, engine):
    s = _search(client, q="backpack", user_id="eve", k=3)
    shown = {x["id"] for x in s["results"]}
    other = next(p.id for p in engine.artifacts.catalog.live() if p.id not in shown)
    r = client.post("/events", json={"user_id": "eve", "product_id": other, "type": "click",
                                     "search_id": s["search_id"]})
    assert r.status_code == 422 and "did not show" in r.json()["detail"]
    assert engine.personalizer.events.count("eve") == 0


@pytest.mark.parametrize("kind", ["cart", "purchase", "view"])
def test_a_cart_or_purchase_off_its_search_is_kept_without_the_search(client, engine, kind):
    s = _search(client, q="backpack", user_id="eve", k=3)
    shown = [x["id"] for x in s["results"]]
    other = next(p.id for p in engine.artifacts.catalog.live() if p.id not in shown)
    sid = s["search_id"]
    events = [{"user_id": "eve", "product_id": other, "type": kind, "search_id": sid},  # not shown
              {"user_id": "eve", "product_id": shown[0], "type": kind, "search_id": "f" * 32},  # never served
              {"user_id": "eve", "product_id": shown[1], "type": kind, "search_id": sid}]  # shown: kept as is
    if kind != "view":  # a view giving a position is checked like a click
        events.append({"user_id": "eve", "product_id": shown[0], "type": kind, "search_id": sid, "position": 3})
    r = client.post("/events", json={"events": events})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(events) and r.json()["rejected"] == []
    logged = [(se.event.product_id, se.event.search_id, se.event.position)
              for se in engine.personalizer.events.scan("eve")]
    expected = [(other, None, None), (shown[0], None, None), (shown[1], sid, 2)]
    assert logged == expected + ([(shown[0], None, None)] if kind != "view" else [])


def test_a_view_giving_a_position_off_its_search_is_refused(client, engine):
    s = _search(client, q="backpack", user_id="eve", k=3)
    shown = [x["id"] for x in s["results"]]
    r = client.post("/events", json={"user_id": "eve", "product_id": shown[0], "type": "view",
                                     "search_id": s["search_id"], "position": 3})
    assert r.status_code == 422 and "not at position 3" in r.json()["detail"]
    assert engine.personalizer.events.count("eve") == 0


def test_forgetting_a_shopper_removes_their_impressions(client, engine):
    _search(client, q="backpack", user_id="cat", session_id="cat-visit")
    _search(client, q="mug", session_id="cat-visit")
    keep = _search(client, q="mug", user_id="dan")
    assert engine.impressions.count() == 3
    gone = client.delete("/users/cat").json()
    assert gone["impressions_deleted"] == 2  # the signed-out search of the same visit too
    assert engine.impressions.count() == 1 and engine.impressions.get(keep["search_id"]) is not None


def test_ab_experiment_assigns_each_shopper_one_arm(client, engine):
    exp = {"name": "pers-1", "kind": "ab", "control": {"name": "plain", "personalize": False},
           "treatment": {"name": "personal"}}
    r = client.put("/admin/experiment", json=exp)
    assert r.status_code == 200, r.text
    assert client.get("/admin/experiment").json()["experiment"]["name"] == "pers-1"
    arms: dict[str, set[str]] = {}
    for i in range(30):
        for _ in range(2):
            sid = _search(client, q="backpack", user_id=f"u{i}")["search_id"]
            arms.setdefault(f"u{i}", set()).add(engine.impressions.get(sid).arm)
    assert all(len(a) == 1 for a in arms.values())  # stable per shopper
    assert {a for s in arms.values() for a in s} == {"plain", "personal"}  # both arms get traffic
    assert client.delete("/admin/experiment").json()["experiment"] is None
    assert engine.impressions.get(_search(client, q="mug", user_id="u1")["search_id"]).arm is None


def test_bad_experiments_are_refused(client):
    base = {"name": "x", "kind": "ab", "control": {"name": "a"}, "treatment": {"name": "b"}}
    for bad in ({**base, "kind": "abc"}, {**base, "treatment": {"name": "a"}}, {**base, "name": "no spaces"},
                {**base, "control": {"name": "a", "fusion": "nope"}}, {**base, "treatment_share": 2},
                {**base, "control": {"name": "a", "ranker": "lambdamart"}},  # no saved model
                {**base, "control": {"name": "a", "ranker_weights": {"no_such_feature": 1.0}}},
                {**base, "control": {"name": "a", "ranker_model": "/nonexistent/model"}}):
        r = client.put("/admin/experiment", json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert client.put("/admin/experiment", content=b"[1]", headers={"content-type": "application/json"}).status_code \
        == 422
    assert client.get("/admin/experiment").json()["experiment"] is None


def test_interleaving_mixes_both_rankings_and_credits_clicks(client, engine):
    exp = {"name": "il-1", "kind": "interleave", "control": {"name": "rrf", "fusion": "rrf"},
           "treatment": {"name": "lin", "fusion": "linear", "ranker_weights": {"bm25_title": 5.0}}}
    assert client.put("/admin/experiment", json=exp).status_code == 200
    s = _search(client, q="blue mug", user_id="eve", k=6)
    imp = engine.impressions.get(s["search_id"])
    assert imp.arm == "interleaved" and imp.experiment == "il-1"
    assert len(imp.teams) == len(imp.products) == len(s["results"]) and set(imp.teams) <= {"a", "b"}
    assert len(set(imp.products)) == len(imp.products)
    first_b = imp.teams.index("b") + 1 if "b" in imp.teams else None
    if first_b is not None:
        client.post("/events", json={"user_id": "eve", "product_id": imp.products[first_b - 1], "type": "click",
                                     "search_id": s["search_id"], "position": first_b})
    rep = client.get("/admin/analytics", params={"plots": "false"}).json()["report"]
    il = [e for e in rep["experiments"] if e["name"] == "il-1"][0]
    assert il["kind"] == "interleave" and il["searches"] == 1
    assert il["interleaving"]["wins_b"] == (1 if first_b is not None else 0)


def test_analytics_report_counts_clicks_zero_results_and_plots(client, engine):
    for i in range(4):
        s = _search(client, q="backpack", user_id=f"v{i}")
        if i % 2 == 0:
            client.post("/events", json={"user_id": f"v{i}", "product_id": s["results"][0]["id"], "type": "click",
                                         "search_id": s["search_id"], "position": 1})
    _search(client, q="qqqq zzzz", user_id="v9", category="Nothing Here")
    body = client.get("/admin/analytics").json()
    rep = body["report"]
    o = rep["overall"]
    assert o["searches"] == 5 and o["ctr@1"] == pytest.approx(2 / 5) and o["mrr"] == pytest.approx(2 / 5)
    assert o["zero_results"] == pytest.approx(1 / 5)
    assert rep["zero_result_queries"] == [["qqqq zzzz", 1]]
    assert rep["click_positions"] == {"1": 2}
    if importlib.util.find_spec("matplotlib") is not None:
        assert {"searches_over_time", "engagement", "click_positions", "latency", "problem_queries"} <= set(
            body["plots"])
        assert all(v.startswith("data:image/png;base64,") for v in body["plots"].values())
    else:  # a plain install: the report without its pictures, saying why
        assert body["plots"] == {} and "shoprank[eval]" in body["plots_unavailable"]
    assert "| all | 5 |" in body["markdown"]
    page = client.get("/analytics")
    assert page.status_code == 200 and '<script src="static/analytics.js">' in page.text
    assert "admin/analytics" in client.get("/static/analytics.js").text


def test_analytics_needs_the_admin_key(demo_catalog, tmp_path):
    from pydantic import SecretStr

    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="palette", profile_store="memory",
                        admin_key=SecretStr("k" * 32))
    eng = ShopRank.build(demo_catalog, settings.index_dir("demo"), settings)
    with TestClient(create_app(eng)) as c:
        assert c.get("/admin/analytics").status_code == 401
        assert c.get("/admin/analytics", headers={"X-API-Key": "k" * 32}).status_code == 200
        assert c.put("/admin/experiment", json={}).status_code == 401


def test_forgetting_a_shopper_spares_others_named_by_their_session_ids(client, engine):
    bob = _search(client, q="backpack", user_id="bob")
    client.post("/events", json={"user_id": "bob", "product_id": bob["results"][0]["id"], "type": "purchase"})
    _search(client, q="mug", user_id="mal", session_id="bob")  # a session id is whatever the client says
    client.post("/events", json={"user_id": "mal", "session_id": "bob", "product_id": bob["results"][0]["id"],
                                 "type": "click"})
    gone = client.delete("/users/mal").json()
    assert gone["events_deleted"] == 1 and gone["impressions_deleted"] == 1 and gone["profiles_deleted"] == 1
    assert engine.personalizer.events.count("bob") == 1 and engine.personalizer.profile("bob") is not None
    assert engine.impressions.get(bob["search_id"]) is not None


@pytest.mark.slow  # trains and saves a model (about a second)
def test_a_broken_saved_model_is_refused_and_a_vanished_one_does_not_break_search(client, engine, tmp_path):
    bad = tmp_path / "model"
    bad.mkdir()
    for meta in ("[]", "{}", '{"type": "lambdamart"}', '{"type": "nope"}', "not json"):
        (bad / "ranker.json").write_text(meta)
        exp = {"name": "m", "kind": "ab", "control": {"name": "a"},
               "treatment": {"name": "b", "ranker": "lambdamart", "ranker_model": str(bad)}}
        r = client.put("/admin/experiment", json=exp)
        assert r.status_code == 422 and "arm 'b'" in r.json()["detail"], (meta, r.text)
    # An experiment written by another process, naming a model this one cannot load: searches go on.
    engine.settings.experiment_path.write_text(json.dumps(
        {"name": "gone", "kind": "interleave", "control": {"name": "a"},
         "treatment": {"name": "b", "ranker": "lambdamart", "ranker_model": str(tmp_path / "nowhere")}}))
    time.sleep(1.05)  # the experiment file is looked at once a second
    s = _search(client, q="backpack", user_id="zed")
    assert engine.impressions.get(s["search_id"]).experiment == "gone" and s["results"]
