"""Multi-task CTR/CVR heads from impression logs: the ranker contract, position bias learned
apart, conversion over the whole impression space."""
from __future__ import annotations

import numpy as np
import pytest
from test_contract import RankerContract

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking import Ranker

pytest.importorskip("torch", reason="pip install 'shoprank[neural]'")

from shoprank.ranking.multitask import Blend, ImpressionRows, MultiTaskRanker, auc

COS, BM25, PRICE = (FEATURE_NAMES.index(n) for n in ("cos_text", "bm25_title", "price_log"))


def _log(n_pages=600, k=10, seed=0) -> ImpressionRows:
    """Pages of k products: seen with 1/r^0.7, clicked when seen with sigmoid(2(cos + bm25) - 1),
    bought after a click with sigmoid(-2 price) (cheap things sell)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_pages * k, len(FEATURE_NAMES))).astype(np.float32)
    pos = np.tile(np.arange(1, k + 1), n_pages)
    seen = rng.random(len(X)) < 1 / pos ** 0.7
    click = seen & (rng.random(len(X)) < 1 / (1 + np.exp(-(2 * (X[:, COS] + X[:, BM25]) - 1))))
    buy = click & (rng.random(len(X)) < 1 / (1 + np.exp(2 * X[:, PRICE])))
    return ImpressionRows(X, pos, click, buy, np.full(len(X), np.nan), np.repeat(np.arange(n_pages) // 6, k))


@pytest.fixture(scope="module")
def fitted() -> MultiTaskRanker:
    return MultiTaskRanker.fit(_log(1500), epochs=20, seed=1)


class TestMultiTaskContract(RankerContract):
    def make_ranker(self) -> Ranker:
        return MultiTaskRanker.fit(_log(300), epochs=10, seed=2)


def test_heads_separate_clicks_from_purchases_and_learn_position_bias(fitted):
    test = _log(200, seed=9)
    h = fitted.heads(test.X)
    assert auc(h["ctr"], test.click) > 0.7
    assert auc(h["ctcvr"], test.purchase) > 0.7
    clicked = test.click
    # pCVR reads price, which says nothing about clicks: better than pCTR at telling buyers among clickers
    assert auc(h["cvr"][clicked], test.purchase[clicked]) > auc(h["ctr"][clicked], test.purchase[clicked]) + 0.1
    seen = fitted.config["seen_by_position"]
    assert seen[0] > seen[4] > seen[9]  # examination falls with the position


def test_the_blend_weighs_conversion_as_configured(fitted):
    X = _log(20, seed=4).X
    by_click = MultiTaskRanker(fitted.net, fitted.mean, fitted.std, Blend(w_cvr=0.0), fitted.config)
    by_sale = MultiTaskRanker(fitted.net, fitted.mean, fitted.std, Blend(w_cvr=1.0), fitted.config)
    h = fitted.heads(X)
    assert by_click._score_matrix(X) == pytest.approx(np.log(h["ctr"]), abs=1e-5)
    assert by_sale._score_matrix(X) == pytest.approx(np.log(h["ctcvr"]), abs=1e-5)


def test_auc_edge_cases():
    assert auc(np.array([0.1, 0.9]), np.array([0, 1])) == 1.0
    assert auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5
    assert np.isnan(auc(np.array([0.1, 0.2]), np.array([1, 1])))
