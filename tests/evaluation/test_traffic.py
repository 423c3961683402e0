"""Simulated shoppers over the HTTP API (in process, fake demo index): searches and events
carry search ids and positions, and the analytics and click models read them back."""
from __future__ import annotations

from fastapi.testclient import TestClient

from shoprank.analytics.clickmodel import PositionBasedModel
from shoprank.analytics.report import join, load_report
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.evaluation.simulator import ShopperModel, make_shoppers
from shoprank.evaluation.traffic import HttpShop, drive, sessions
from shoprank.service import create_app

QUERIES = ("backpack", "bag", "mug", "coffee mug", "red backpack")


def test_shoppers_drive_searches_events_and_analytics(demo_catalog, tmp_path):
    settings = Settings(home=tmp_path, text_encoder="hashing", image_encoder="palette", profile_store="memory",
                        rate_search_per_s=0, rate_events_per_s=0, cf_model="none")
    engine = ShopRank.build(demo_catalog, settings.index_dir("demo"), settings)
    products = engine.artifacts.catalog.products
    model = ShopperModel(products)
    shoppers = sessions(make_shoppers(products, 6, seed=1, queries=QUERIES, n_test=1), "t-")
    with TestClient(create_app(engine)) as client:
        traffic = drive(HttpShop(client), model, shoppers, searches_per_session=4, seed=1)
    assert traffic.searches == 24 and traffic.sessions == [s.id for s in shoppers]
    assert traffic.events > 0
    assert engine.impressions.count() == 24
    logged = [se.event for se in engine.personalizer.events.scan()]
    assert len(logged) == traffic.events and all(e.search_id and e.position for e in logged)
    views = join(engine.impressions.scan(), engine.personalizer.events.scan())
    assert sum(len(v.clicks) for v in views) == sum(e.type == "click" for e in logged)
    for v in views:  # every click is on a product the page showed, where it showed it
        assert all(1 <= p <= len(v.imp.products) for p in v.clicks)
    shown = {k for k in traffic.shown_grades}
    assert all(q in QUERIES for q, _ in shown)
    rep = load_report(engine.impressions, engine.personalizer.events)
    assert rep.overall["searches"] == 24 and rep.overall["ctr@10"] > 0
    pbm = PositionBasedModel().fit(v.page() for v in views)
    assert pbm.examination[0] == 1.0 and len(pbm.pairs()) > 0
