"""ShopRank end to end on the demo catalog with model-free encoders."""
from __future__ import annotations

import pytest

from shoprank.config import Settings
from shoprank.engine import QueryError, ShopRank
from shoprank.ranking.base import CandidateBatch
from shoprank.types import Query


def ids(res):
    return [h.product.id for h in res.hits]


def test_text_and_chinese_queries(fake_engine):
    assert ids(fake_engine.search("red backpack", k=3))[0] == "demo-backpack-red"
    res = fake_engine.search("红色登山背包", k=3)
    assert ids(res)[0] == "demo-backpack-red" and res.parsed is not None and "red" in res.parsed.colors


def test_similar_items_leave_the_model_out_and_prefer_the_same_colour(fake_engine):
    sims = fake_engine.similar("demo-backpack-red", 5)
    assert "demo-backpack-red" not in [h.product.id for h in sims] and len(sims) == 5
    assert all(set(h.features) == {"cos_text", "cos_image"} for h in sims)
    assert sims == sorted(sims, key=lambda h: -h.score)
    with pytest.raises(KeyError):
        fake_engine.similar("nope")


def test_bad_photo_and_bad_k_are_query_errors(fake_engine):
    with pytest.raises(QueryError, match="not a readable image") as err:
        fake_engine.search(Query(image=b"not an image"))
    assert " at 0x" not in str(err.value)  # PIL's message names the buffer's memory address
    with pytest.raises(QueryError, match="k must be"):
        fake_engine.search(Query(text="mug", k=0))


def test_reopened_index_answers_the_same(fake_engine, fake_settings):
    again = ShopRank.open(fake_settings.index_dir("demo"), fake_settings)
    for q in ("blue mug", "yoga", "瑜伽裤"):
        assert ids(again.search(q, k=5)) == ids(fake_engine.search(q, k=5))


def test_candidate_batch_carries_vectors_per_modality(fake_engine):
    photo = open(fake_engine.artifacts.catalog.get("demo-backpack-red").images[0], "rb").read()
    c = fake_engine.candidates(Query(text="backpack", image=photo))
    b: CandidateBatch = c.batch
    assert set(b.modalities()) == {"text", "image", "label", "review", "color"}
    vecs, present = b.item_vectors("image")
    assert vecs.shape == (len(b), 64) and present.all()  # every demo product has a photo
    assert b.query_vector("text") is not None and b.query_vector("image") is not None
    assert b.query_vector("color") is not None  # the photo's colour histogram
    assert len(b.product_ids) == len(b) == len(c.positions)


def test_a_joint_encoder_gives_text_to_photo_retrieval(demo_catalog, tmp_path):
    s = Settings(home=tmp_path, text_encoder="hashing", image_encoder="palette-joint", profile_store="memory")
    engine = ShopRank.build(demo_catalog, s.index_dir("joint"), s)
    assert engine.artifacts.manifest["joint_text_image"] is True
    res = engine.search("green", k=5, explain=True)
    assert "text_image" in res.retrievers and res.hits[0].retrievers.get("text_image") is not None
    assert res.hits[0].features["cos_text_image"] > 0.9  # the photo is embedded as its colour's name
    # Without the joint encoder the route is off and its feature is 0.
    plain = ShopRank.build(demo_catalog, s.index_dir("plain"), s.model_copy(update={"image_encoder": "palette"}))
    res = plain.search("green", k=5, explain=True)
    assert "text_image" not in res.retrievers and res.hits[0].features["cos_text_image"] == 0.0


def test_suggest_and_personalization_events(fake_engine):
    assert any("Backpack" in s.text for s in fake_engine.suggest("back"))
    from shoprank.types import Event

    p = fake_engine.personalizer
    p.record([Event(user_id="engine-u1", product_id="demo-yoga-leggings-red", type="purchase")])
    before = fake_engine.search(Query(text="red", k=5, user_id="engine-u1", personalize=False))
    after = fake_engine.search(Query(text="red", k=5, user_id="engine-u1"))
    assert after.personalized and not before.personalized
    assert ids(after)[0] == "demo-yoga-leggings-red" != ids(before)[0]


def test_an_index_opened_with_another_encoder_warns(fake_engine, caplog):
    """Queries encoded by another model (or another build of it) than the index's land in
    another space: say so when the encoder is loaded."""
    settings = fake_engine.settings
    with caplog.at_level("WARNING", logger="shoprank.engine"):
        same = ShopRank(fake_engine.artifacts, settings)
        assert same.text_encoder is not None and same.image_encoder is not None
        assert not [r for r in caplog.records if "was built with" in r.getMessage()]
        other = ShopRank(fake_engine.artifacts, settings.model_copy(update={"image_encoder": "palette-joint"}))
        assert other.image_encoder is not None
    warned = [r.getMessage() for r in caplog.records if "was built with" in r.getMessage()]
    assert len(warned) == 1 and "palette-joint" in warned[0]


def test_price_phrases_read_the_catalogs_own_currency(tmp_path):
    from shoprank.catalog import Catalog
    from shoprank.types import Product

    cat = Catalog([Product(id=f"m{i}", title=f"Ceramic Mug {i}", price=20 + 40 * i, currency="CNY") for i in range(3)]
                  + [Product(id="u", title="Ceramic Mug", price=9, currency="USD")])
    s = Settings(home=tmp_path, text_encoder="hashing", image_encoder="none", profile_store="memory")
    engine = ShopRank.build(cat, s.index_dir("cny"), s)  # no currency set: CNY, most products'
    res = engine.search("mug under 50元", k=10)
    assert res.parsed is not None and (res.parsed.price_max, res.parsed.price_note) == (50.0, None)
    usd = ShopRank.open(s.index_dir("cny"), s.model_copy(update={"currency": "USD"})).search("mug under 50元")
    assert usd.parsed is not None and usd.parsed.price_max is None
    assert "prices are in USD" in (usd.parsed.price_note or "")
