"""The feature extractor on the fake demo index: columns by declaration, candidates only."""
from __future__ import annotations

import numpy as np
import pytest

from shoprank.features.registry import FEATURE_NAMES, PERSONAL_FEATURES
from shoprank.personalization.profile import Profile
from shoprank.personalization.signals import PersonalContext
from shoprank.types import Query


def col(X, name):
    return X[:, FEATURE_NAMES.index(name)]


def test_columns_follow_the_declarations(fake_engine):
    c = fake_engine.candidates(Query(text="red backpack"))
    X, pos = c.X, c.batch.positions
    assert X.shape == (len(pos), len(FEATURE_NAMES)) and X.dtype == np.float32
    ids = c.batch.product_ids
    red = ids.index("demo-backpack-red")
    # Lexical: the title holds both words.
    assert col(X, "bm25_title")[red] == col(X, "bm25_title").max() > 0
    assert col(X, "title_coverage")[red] == 1.0 and col(X, "query_terms")[red] == 2
    # Dense: the cosine of the query and the product text, as computed directly.
    art = fake_engine.artifacts
    q = fake_engine.text_encoder.encode_query("red backpack")
    assert col(X, "cos_text")[red] == pytest.approx(float(art.modalities["text"].vectors[pos[red]] @ q), abs=1e-5)
    # Query understanding: a red backpack matches colour and type; a blue one only the type.
    blue = ids.index("demo-backpack-blue")
    assert (col(X, "color_match")[red], col(X, "type_match")[red]) == (1.0, 1.0)
    assert (col(X, "color_match")[blue], col(X, "type_match")[blue]) == (-1.0, 1.0)
    # No photo in the query: photo features are 0; no profile: personal features are 0.
    assert not col(X, "cos_image").any() and not col(X, "cos_color").any()
    assert not X[:, [FEATURE_NAMES.index(n) for n in PERSONAL_FEATURES]].any()


def test_personal_columns_read_the_profile(fake_engine):
    ex = fake_engine.pipeline.extractor
    sig = ex.signals
    pos = fake_engine.artifacts.catalog.position("demo-backpack-red")
    prof = Profile(owner="u")
    prof.add(0.0, 3600.0, "click", "demo-backpack-red", sig.facets(pos), sig.vectors(pos), 1)
    c = fake_engine.candidates(Query(text="bag"))
    X = ex.extract(fake_engine.understand(Query(text="bag")), c.batch.positions, {}, PersonalContext(prof))
    ids = c.batch.product_ids
    assert col(X, "user_category")[ids.index("demo-backpack-red")] > 0
    assert col(X, "user_text")[ids.index("demo-backpack-red")] == pytest.approx(1.0, abs=1e-5)
    assert col(X, "user_color").max() > 0 and not col(X, "cf_score").any()


def test_no_candidates_no_rows(fake_engine):
    ex = fake_engine.pipeline.extractor
    X = ex.extract(fake_engine.understand(Query(text="x")), [], {})
    assert X.shape == (0, len(FEATURE_NAMES))


def test_surface_match_columns_catch_what_whole_terms_miss(fake_engine):
    # "backpac" is cut off: no whole term matches, its first four letters and trigrams do.
    c = fake_engine.candidates(Query(text="red backpac"))
    X, ids = c.X, c.batch.product_ids
    red = ids.index("demo-backpack-red")
    assert col(X, "title_prefix_cover")[red] == 1.0
    assert col(X, "title_trigram_cos")[red] == col(X, "title_trigram_cos").max() > 0.5
    assert col(X, "title_trigram_gap")[red] == 0.0 and (col(X, "title_trigram_gap") <= 0).all()
    assert not col(X, "title_numbers").any()  # no number asked
    title = fake_engine.product("demo-backpack-red").title
    assert col(X, "title_words")[red] == len(title.split())


def test_a_price_past_float32_gives_finite_features_and_a_score(tmp_path, fake_settings):
    """1e39 overflows float32: its price_log was inf, the score NaN, and the product sank below
    unrelated items for its own exact title. Validation refuses it now; a product made without
    validation must still score."""
    from fakes import shop_catalog
    from shoprank.catalog import Catalog
    from shoprank.engine import ShopRank
    from shoprank.types import Product

    odd = Product.model_construct(**{**Product(id="odd", title="Quibbleton Brass Lamp").model_dump(), "price": 1e39})
    engine = ShopRank.build(Catalog([*shop_catalog("A", n=40), odd]), tmp_path / "idx", fake_settings)
    pos = engine.artifacts.catalog.position("odd")
    assert np.isfinite(engine.pipeline.extractor.static["price_log"][pos])
    hit = engine.search(Query(text="Quibbleton Brass Lamp", k=3)).hits[0]
    assert hit.product.id == "odd" and np.isfinite(hit.score)
