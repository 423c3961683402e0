import numpy as np
import pytest

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking.base import CandidateBatch
from shoprank.ranking.linear import LinearRanker


def _rows(**cols):
    X = np.zeros((3, len(FEATURE_NAMES)), np.float32)
    for name, vals in cols.items():
        X[:, FEATURE_NAMES.index(name)] = vals
    return CandidateBatch.from_features(X)


def test_scores_are_weighted_sums_of_per_query_scaled_features():
    r = LinearRanker({n: 0.0 for n in FEATURE_NAMES} | {"cos_text": 2.0, "rating": 0.5})
    X = _rows(cos_text=[0.8, 0.9, 0.85], rating=[4.0, 0.0, 5.0])
    s = r.score(X)
    # cos_text scaled to [0, 1, 0.5] within the query; rating is used as is.
    assert s == pytest.approx([0.0 + 2.0, 2.0 + 0.0, 1.0 + 2.5])
    contrib = r.explain(X)
    assert contrib.sum(axis=1) == pytest.approx(s)
    # A subset is explained within the whole query's scaling.
    assert r.explain(X, [2]) == pytest.approx(contrib[[2]]) and r.base_score() == 0.0


def test_constant_column_contributes_nothing_and_unknown_weights_fail():
    r = LinearRanker()
    X = _rows(bm25_title=[0.0, 0.0, 0.0])
    assert np.all(r.explain(X)[:, FEATURE_NAMES.index("bm25_title")] == 0)
    with pytest.raises(ValueError, match="unknown"):
        LinearRanker({"nope": 1.0})
