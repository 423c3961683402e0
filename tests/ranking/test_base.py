"""Candidate batches name their columns and rankers read theirs by name (ranking/base.py)."""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest

from shoprank.features import registry
from shoprank.ranking import CandidateBatch, LinearRanker, Ranker, base, load_ranker


def test_a_batch_gives_its_columns_by_name_in_the_order_asked():
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = CandidateBatch.from_features(X, ["a", "b", "c"])
    assert b.columns(["c", "a"]).tolist() == [[2, 0], [5, 3]]
    assert b.columns(["a", "b", "c"]) is b.X  # the same columns: no copy
    assert b.lacks(["c", "z", "a", "y"]) == ["z", "y"]
    assert CandidateBatch.from_features(np.zeros((4, len(registry.FEATURE_NAMES)))).names == registry.FEATURE_NAMES
    with pytest.raises(ValueError, match="3 feature columns for 2 names"):
        CandidateBatch.from_features(X, ["a", "b"])


def _abc_model(kind: str) -> Ranker:
    """A model trained on columns [a, b, c] (names this version does not declare)."""
    if kind == "linear":
        return LinearRanker({"a": 1.0, "b": 2.0, "c": -0.5}, ["a", "b", "c"])
    pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
    from shoprank.ranking.lgbm import LambdaMARTRanker

    X = np.random.default_rng(1).normal(size=(400, 3)).astype(np.float32)
    y = np.digitize(X[:, 0] + 2 * X[:, 1], [-1, 0, 1])
    return LambdaMARTRanker.fit(X, y, [20] * 20, num_rounds=20, feature_names=["a", "b", "c"])


@pytest.mark.parametrize("kind", ["linear", "lambdamart"])
def test_a_model_trained_on_abc_scores_a_batch_cxab_as_one_abc(kind, tmp_path):
    model = _abc_model(kind)
    X = np.random.default_rng(2).normal(size=(25, 3)).astype(np.float32)
    abc = CandidateBatch.from_features(X, ["a", "b", "c"])
    # Another order, and a column the model never saw ("x") in the middle: ignored.
    cxab = CandidateBatch.from_features(np.column_stack([X[:, 2], np.ones(len(X)), X[:, 0], X[:, 1]]),
                                        ["c", "x", "a", "b"])
    assert np.array_equal(model.score(cxab), model.score(abc))
    explained = model.explain(cxab)
    assert np.array_equal(explained[:, [2, 3, 0]], model.explain(abc)) and (explained[:, 1] == 0).all()
    assert explained.sum(axis=1) + model.base_score() == pytest.approx(model.score(cxab), abs=1e-5)
    model.save(tmp_path / "m")  # the saved model keeps its names and loads whatever this version computes
    again = load_ranker(tmp_path / "m")
    assert again.feature_names == ["a", "b", "c"]
    assert again.score(cxab) == pytest.approx(model.score(abc), abs=1e-5)


def test_a_feature_the_batch_lacks_gets_its_declared_fallback_logged_once(monkeypatch, caplog):
    monkeypatch.setattr(base, "_reported_missing", set())
    # As if the extractor gave "rating" 4.0 for a product without one: what the batch lacks then gets.
    monkeypatch.setitem(registry.BY_NAME, "rating", replace(registry.BY_NAME["rating"], missing=4.0))
    # "gone": a feature this version no longer declares (0.0).
    model = LinearRanker({"bm25_title": 0.0, "rating": 0.5, "gone": 2.0}, ["bm25_title", "rating", "gone"])
    b = CandidateBatch.from_features(np.ones((3, 1), np.float32), ["bm25_title"])
    with caplog.at_level(logging.WARNING, logger="shoprank.ranking.base"):
        for _ in range(3):  # three searches
            s = model.score(b)
            contrib = model.explain(b)
    assert s == pytest.approx([2.0, 2.0, 2.0])  # 4.0 * 0.5 + 0.0 * 2.0
    logged = [r.getMessage() for r in caplog.records]
    assert sum("'rating'" in m for m in logged) == 1 and sum("'gone'" in m for m in logged) == 1
    # Explained under their own names, after the batch's columns; the contributions still add up.
    assert model.explained_names(b) == ["bm25_title", "rating", "gone"]
    assert contrib.tolist() == [[0.0, 2.0, 0.0]] * 3
    assert base.fallback_value("rating") == 4.0 and base.fallback_value("gone") == 0.0
