"""The shopper simulator: grades by hand, and a small run on Luma."""
from __future__ import annotations

import random

from conftest import needs_luma
from shoprank.evaluation.simulator import Shopper, ShopperModel, simulate
from shoprank.types import Product

PRODUCTS = [
    Product(id="wj-red", title="Ava Jacket", categories=["Women/Tops/Jackets"], price=40,
            attributes={"color": "Red"}),
    Product(id="mj-red", title="Max Jacket", categories=["Men/Tops/Jackets"], price=90, attributes={"color": "Red"}),
    Product(id="wp-blue", title="Ida Pant", categories=["Women/Bottoms/Pants"], price=40,
            attributes={"color": "Blue"}),
]
ANN = Shopper(id="ann", gender="women", colors=frozenset({"red"}), price_range=(0, 50),
              train_queries=("pants",), test_queries=("jacket",))


def test_grades_follow_the_documented_formula():
    m = ShopperModel(PRODUCTS)
    assert m.grade(ANN, "jacket", "wj-red") == 4  # on topic + gender + colour + price
    assert m.grade(ANN, "jacket", "mj-red") == 2  # on topic + colour
    assert m.grade(ANN, "jacket", "wp-blue") == 0  # off topic
    assert m.ideal(ANN, "jacket") == [4, 2]
    assert m.ndcg10(ANN, "jacket", ["wj-red", "mj-red"]) == 1.0
    assert m.ndcg10(ANN, "jacket", ["mj-red", "wj-red"]) < 1.0


def test_clicks_follow_grades():
    m = ShopperModel(PRODUCTS)
    rng = random.Random(0)
    clicks = {"wj-red": 0, "mj-red": 0}
    for _ in range(400):
        for pid, kind in m.browse(ANN, "jacket", ["mj-red", "wj-red"], rng):
            if kind == "click":
                clicks[pid] += 1
    # Grade 4 at rank 2 is clicked more than grade 2 at rank 1.
    assert clicks["wj-red"] > clicks["mj-red"] > 0


@needs_luma
def test_personalization_lifts_ndcg_for_simulated_shoppers(luma_engine):
    rep = simulate(luma_engine, n_shoppers=6, seed=3, checkpoints=(0, 3))
    rows = {r["interactions"]: r for r in rep.rows()}
    assert rows[0]["lift"] == 0.0  # cold start: exactly the unpersonalized ranking
    assert rows[3]["lift"] > 0
    assert rep.interactions[3] == [3] * 6
