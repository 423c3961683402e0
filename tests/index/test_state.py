"""Every per-product state, kept current by live catalog writes, equals the same state built
afresh over the catalog the writes leave (the contract of :class:`ProductState`)."""
from __future__ import annotations

import numpy as np
import pytest

from fakes import photo, shop_catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.features.extract import FeatureExtractor
from shoprank.index.live import CatalogWrite
from shoprank.index.state import ProductState, served_states
from shoprank.personalization.signals import ItemSignals
from shoprank.retrieval.suggest import Suggester
from shoprank.types import Product, Review


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """An engine over a small shop, after adds (a model and its variant, with photos and
    reviews), content changes, price changes and deletes."""
    home = tmp_path_factory.mktemp("state")
    s = Settings(home=home, text_encoder="hashing", image_encoder="palette", profile_store="memory")
    engine = ShopRank.build(shop_catalog("A", n=60, marker_at=7), s.index_dir("shop"), s)
    lamp = Product(id="N-1", title="Quibbleton Desk Lamp 40W", categories=["Home/Lighting"], price=30.0,
                   attributes={"color": ["Green"], "size": ["S", "M"]}, images=[photo(home / "g.png", "green")],
                   reviews=[Review(rating=4, text="Bright and steady")])
    variant = Product(id="N-1-red", parent_id="N-1", title="Quibbleton Desk Lamp Red", price=31.0,
                      categories=["Home/Lighting"], images=[photo(home / "r.png", "red")])
    engine.write([CatalogWrite.put(lamp), CatalogWrite.put(variant)])
    a3 = engine.product("A-0003")
    engine.write([CatalogWrite.put(a3.model_copy(update={"title": "Flurbish Oak Chair"})),
                  CatalogWrite.put(engine.product("A-0005").model_copy(update={"price": 999.0, "stock": 0})),
                  CatalogWrite.delete("A-0009"), CatalogWrite.delete("N-1")])
    return engine


def test_the_states_implement_the_protocol(written):
    served = written.writer.served
    for state in [*served_states(served.artifacts), served.pipeline.extractor, served.pipeline.extractor.signals,
                  served.suggester]:
        assert isinstance(state, ProductState), type(state)


def test_the_ranker_columns_equal_columns_built_afresh(written):
    kept = written.pipeline.extractor
    fresh = FeatureExtractor(written.artifacts)
    assert kept.n == fresh.n == len(written.artifacts.catalog.products)
    for name in kept.static:
        assert np.array_equal(kept.static[name], fresh.static[name]), name
    for attr in ("title_terms", "desc_terms", "titles", "title_prefixes", "title_numbers", "sizes"):
        assert getattr(kept, attr) == getattr(fresh, attr), attr
    assert np.array_equal(kept.prices, fresh.prices, equal_nan=True)
    assert np.array_equal(kept.in_stock, fresh.in_stock)
    for part in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(kept.title_trigrams, part).view(), getattr(fresh.title_trigrams, part).view())


def test_the_profile_signals_equal_signals_built_afresh(written):
    kept = written.pipeline.extractor.signals
    fresh = ItemSignals(written.artifacts)
    for attr in ("ids", "colors", "genders", "types", "_attrs", "_categories"):
        assert getattr(kept, attr) == getattr(fresh, attr), attr
    assert kept._rows.keys() == fresh._rows.keys()
    for mod in kept._rows:
        assert np.array_equal(kept._rows[mod], fresh._rows[mod]), mod
    # Price bands stay as built until the next rebuild; a changed price moves its band.
    products = written.artifacts.catalog.products
    assert kept.price_band.tolist() == [kept._band(p) for p in products]


def test_autocomplete_equals_one_built_afresh(written):
    kept = written.writer.served.suggester
    fresh = Suggester(written.artifacts.catalog)
    for typed in ("quib", "flurb", "home", "oak", "lamp", "a"):
        assert kept.suggest(typed, k=30) == fresh.suggest(typed, k=30), typed
    assert [s.product_id for s in kept.suggest("quibbleton")] == ["N-1-red"]  # its model was deleted
