"""ShopRank.reload: a running engine moves to the newest generation of its index."""
from __future__ import annotations

import gc

import pytest

from fakes import MARKER, shop_catalog
from shoprank.config import Settings
from shoprank.engine import ReloadError, ShopRank
from shoprank.index.generations import IndexHome
from shoprank.types import Event, Query


@pytest.fixture
def settings(tmp_path):
    # suggest_min_users=1: one shopper's query is suggested, so the test can follow it across a reload.
    return Settings(home=tmp_path, text_encoder="hashing", image_encoder="none", profile_store="memory",
                    suggest_min_users=1)


def top(engine: ShopRank, text: str = MARKER) -> str:
    return engine.search(text, k=1).hits[0].product.id


def test_reload_serves_the_new_generation_and_keeps_shoppers(settings):
    root = settings.index_dir("shop")
    ShopRank.build(shop_catalog("A", marker_at=137), root, settings)
    engine = ShopRank.open(root, settings)
    engine.personalizer.record([Event(user_id="u1", product_id="A-0003", type="purchase", query="zorblat cheap")])
    assert {(s.text, s.product_id) for s in engine.suggest("zorb")} == {("zorblat cheap", None),
                                                                         ("Zorblat Lamp", "A-0137")}
    old_pipeline = engine.pipeline
    assert engine.reload() is False and engine.generation == "gen-000001" and top(engine) == "A-0137"

    ShopRank.build(shop_catalog("B", marker_at=42), root, settings)
    assert top(engine) == "A-0137"  # nothing changes until the reload
    assert engine.reload() is True and engine.generation == "gen-000002"
    assert top(engine) == "B-0042" and engine.product("A-0137") is None and engine.product("B-0042") is not None
    assert engine.similar("B-0042", 3)
    assert {(s.text, s.product_id) for s in engine.suggest("zorb")} == {("zorblat cheap", None),  # kept
                                                                         ("Zorblat Lamp", "B-0042")}
    # A search that began on the old generation finishes on it (its pipeline is self-contained).
    old = old_pipeline.run(Query(text=MARKER, k=1), engine.understand(Query(text=MARKER)))
    assert old.hits[0].product.id == "A-0137"

    # Events on the new catalog's products are accepted and folded in with its facets.
    p = engine.personalizer
    new_only = [Event(user_id="u1", product_id="B-0042", type="purchase")]
    assert p.unknown_products(new_only) == [] and p.unknown_products([Event(user_id="u1", product_id="A-0003",
                                                                           type="click")]) == [0]
    p.record(new_only)
    profile = p.profile("u1")
    assert profile is not None and profile.n_events == 2 and "category:Home/Lighting" in profile.affinity
    assert engine.search(Query(text="lamp", k=5, user_id="u1")).personalized

    # The old generation is no longer held (the engine that built it is garbage): the next build removes it.
    gc.collect()
    ShopRank.build(shop_catalog("C"), root, settings)
    assert IndexHome(root).generations() == ["gen-000002", "gen-000003"]


def test_a_generation_encoded_differently_is_refused_and_the_old_one_stays(settings):
    root = settings.index_dir("shop")
    engine = ShopRank.build(shop_catalog("A", marker_at=1), root, settings)
    ShopRank.build(shop_catalog("B"), root, settings.model_copy(update={"image_encoder": "palette"}))
    with pytest.raises(ReloadError, match="image_encoder"):
        engine.reload()
    assert engine.generation == "gen-000001" and top(engine) == "A-0001"


def test_reload_needs_an_index_folder(settings):
    engine = ShopRank.build(shop_catalog("A"), settings.index_dir("shop"), settings)
    handed = ShopRank(engine.artifacts, settings)
    assert handed.generation is None
    with pytest.raises(ReloadError, match="handed"):
        handed.reload()
