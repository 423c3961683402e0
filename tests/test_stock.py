"""Stock and availability: imported from catalog rows, filtered on request, and out-of-stock
products ranked after the rest (each part in relevance order)."""
from __future__ import annotations

import numpy as np
import pytest

from fakes import tiny_catalog
from shoprank.catalog import Catalog
from shoprank.catalog.fields import row_to_product
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.search import demote_out_of_stock
from shoprank.types import Filters, Product, Query


@pytest.mark.parametrize("row,stock,available", [
    ({"stock": "3"}, 3, True),
    ({"qty": 0}, 0, True),
    ({"quantity": "12", "is_in_stock": "0"}, 12, False),
    ({"available": "yes"}, None, True),
    ({"availability": "out of stock"}, None, False),
    ({"in_stock": True}, None, True),
    ({}, None, True),
])
def test_stock_columns(row, stock, available):
    p = row_to_product({"id": "x", "title": "X", **row})
    assert (p.stock, p.available) == (stock, available)
    assert p.in_stock == (available and (stock is None or stock > 0))


@pytest.mark.parametrize("row,needle", [
    ({"stock": "-1"}, "stock"), ({"stock": "2.5"}, "whole number"), ({"stock": "inf"}, "finite"),
    ({"available": "maybe"}, "yes/no"), ({"stock": [3]}, "number"),
])
def test_bad_stock_values_are_row_errors(row, needle):
    with pytest.raises(ValueError, match=needle):
        row_to_product({"id": "x", "title": "X", **row})


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("stock")
    products = [p if p.id not in ("mug-red", "hoodie-red") else p.model_copy(update={"stock": 0})
                for p in tiny_catalog(tmp / "photos")]
    settings = Settings(home=tmp, text_encoder="hashing", image_encoder="palette", profile_store="memory")
    return ShopRank.build(Catalog(products), settings.index_dir("stock"), settings)


def ids(engine: ShopRank, **kw) -> list[str]:
    return [h.product.id for h in engine.search(Query(k=8, collapse_variants=False, **kw)).hits]


def with_band(engine: ShopRank, band: float) -> ShopRank:
    s = engine.settings.model_copy(update={"out_of_stock_band": band})
    return ShopRank(engine.artifacts, s, engine.text_encoder, engine.image_encoder)


def test_a_sold_out_exact_match_stays_above_unrelated_items(engine):
    assert engine.settings.out_of_stock_band == pytest.approx(0.1)  # measured: benchmarks/stock_ordering.py
    got = ids(engine, text="red ceramic coffee mug")
    assert got[0] == "mug-red"  # far more relevant than anything in stock: it keeps its place
    # A band of 1 is the previous rule: below every in-stock match (and, before matches came
    # first, below a book and a watch too).
    assert ids(with_band(engine, 1.0), text="red ceramic coffee mug")[:3] == ["mug-blue", "mug-red", "hoodie-red"]


def test_band_one_puts_out_of_stock_products_last_in_relevance_order(engine):
    kept = ids(engine, text="red mug hoodie", out_of_stock_last=False)
    last = ids(with_band(engine, 1.0), text="red mug hoodie")
    sold_out = [i for i in kept if i in ("mug-red", "hoodie-red")]
    assert kept.index("mug-red") < len(kept) - 2 or kept.index("hoodie-red") < len(kept) - 2
    # Last among the matches: the hits that only fill the page still come after them.
    matches = {h.product.id for h in engine.search(Query(text="red mug hoodie", k=8, collapse_variants=False)).hits
               if h.match}
    for part in (matches, set(kept) - matches):
        mine = [i for i in kept if i in part]
        buyable = [i for i in mine if i not in sold_out]
        assert [i for i in last if i in part] == buyable + [i for i in mine if i in sold_out]
    assert last == [i for i in last if i in matches] + [i for i in last if i not in matches]


def test_in_stock_filter(engine):
    got = ids(engine, text="red mug hoodie", filters=Filters(in_stock=True))
    assert got and "mug-red" not in got and "hoodie-red" not in got
    assert not Filters(in_stock=True).empty
    assert not Filters(in_stock=True).accepts(Product(id="a", title="A", available=False))


@pytest.mark.parametrize("band,expected", [
    (0.0, [0, 1, 2, 3, 4]),   # keep the rank
    (0.1, [1, 0, 2, 3, 4]),   # 10 - 0.1 * 10 = 9: below 9.5 only
    (0.5, [1, 2, 3, 0, 4]),   # 10 - 5 = 5: ties with row 3, the in-stock one first
    (1.0, [1, 2, 3, 4, 0]),   # the old rule: after every in-stock product
])
def test_out_of_stock_drops_within_a_band_of_the_score_range(band, expected):
    scores = np.array([10.0, 9.5, 6.0, 5.0, 0.0])
    buyable = np.array([False, True, True, True, True])
    assert demote_out_of_stock(np.arange(5), scores, buyable, band).tolist() == expected


def test_the_band_applies_to_the_given_order_and_keeps_out_of_stock_ties_in_it():
    scores = np.array([1.0, 3.0, 3.0, 2.0])
    buyable = np.array([True, False, False, True])
    order = np.array([2, 1, 3, 0])  # e.g. a reranked order: row 2 before row 1
    assert demote_out_of_stock(order, scores, buyable, 0.25).tolist() == [2, 1, 3, 0]  # 3 - 0.5 = 2.5 > 2
    assert demote_out_of_stock(order, scores, buyable, 0.75).tolist() == [3, 2, 1, 0]  # 3 - 1.5 = 1.5 < 2
    assert demote_out_of_stock(order, scores, np.ones(4, bool), 0.25).tolist() == order.tolist()
