"""The default ranker: learned relevance, hand-set terms for what the labelled sets never vary."""
from __future__ import annotations

import numpy as np
import pytest

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking import CandidateBatch, LinearRanker

pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
from shoprank.ranking import default as default_mod
from shoprank.ranking.default import DefaultRanker, default_ranker

COL = {n: j for j, n in enumerate(FEATURE_NAMES)}


def _labelled(n_queries=40, per=25, seed=0):
    """Rows like the labelled sets': text features vary, personal and photo features are all 0."""
    rng = np.random.default_rng(seed)
    X = np.zeros((n_queries * per, len(FEATURE_NAMES)), np.float32)
    for name in ("bm25_title", "bm25_description", "cos_text", "title_coverage", "rrf", "type_match"):
        X[:, COL[name]] = rng.random(len(X))
    y = np.digitize(X[:, COL["bm25_title"]] + X[:, COL["cos_text"]], [0.8, 1.2, 1.6])
    return X, y, [per] * n_queries


@pytest.fixture(scope="module")
def model():
    X, y, groups = _labelled()
    return DefaultRanker.fit(X, y, groups, num_rounds=40, trained_on=["toy"], text_encoder="toy")


def test_features_the_training_rows_never_vary_fall_back_to_the_linear_weights(model):
    assert {"user_category", "cf_score", "has_image", "rating"} <= set(model.fallback)
    assert not {"bm25_title", "cos_text"} & set(model.fallback)
    assert model.linear.weights["user_category"] == LinearRanker().weights["user_category"] > 0
    assert model.linear.weights["bm25_title"] == 0.0  # the learned part owns it
    # Query understanding reads the catalog's own vocabulary: hand-set even where the rows vary it.
    assert "type_match" in model.fallback and model.linear.weights["type_match"] == LinearRanker().weights["type_match"]
    assert model.relevance.feature_importance()["type_match"] == 0.0


def test_relevance_is_learned_and_scaled_like_the_linear_ranker(model):
    X, y, _ = _labelled(1, 200, seed=5)
    b = CandidateBatch.from_features(X)
    s = model.score(b)
    assert np.corrcoef(s, y)[0, 1] > 0.7
    assert y[np.argmax(s)] == y.max()
    # The learned score spreads a query's candidates about as much as the hand-set relevance terms.
    learned = LinearRanker({n: (0.0 if n in model.fallback else w) for n, w in LinearRanker().weights.items()})
    assert 0.3 < np.std(model.scale * model.relevance.score(b)) / np.std(learned.score(b)) < 3


def test_the_fused_scores_scale_does_not_matter(model):
    """RRF and normalised linear fusion (or a photo query's retrievers) give the fused score other scales."""
    X, _, _ = _labelled(1, 30, seed=3)
    X[:, COL["rrf"]] = np.linspace(0.01, 0.03, 30)
    X2 = X.copy()
    X2[:, COL["rrf"]] = X[:, COL["rrf"]] * 40 + 0.2
    assert model.score(CandidateBatch.from_features(X2)) == pytest.approx(
        model.score(CandidateBatch.from_features(X)), abs=1e-5)


def test_a_shoppers_profile_still_moves_results(model):
    X, _, _ = _labelled(1, 30, seed=7)
    b = CandidateBatch.from_features(X)
    before = model.score(b)
    liked = int(np.argsort(before)[len(before) // 2])  # a middling candidate
    X2 = X.copy()
    X2[liked, COL["user_category"]] = 1.0
    X2[liked, COL["cf_score"]] = 1.0
    after = model.score(CandidateBatch.from_features(X2))
    assert (after > after[liked]).sum() < (before > before[liked]).sum()
    assert model.explain(CandidateBatch.from_features(X2), [liked])[0, COL["user_category"]] > 0


def test_packaged_model_loads_by_encoder_with_weight_overrides_and_falls_back(model, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(default_mod, "PACKAGED", tmp_path)
    assert isinstance(default_ranker("toy"), LinearRanker)  # none ships for it
    model.save(tmp_path / "default-toy")
    served = default_ranker("toy", {"user_category": 2.5})
    assert isinstance(served, DefaultRanker) and served.trained_on == ["toy"]
    assert served.linear.weights["user_category"] == 2.5
    X, _, _ = _labelled(1, 20, seed=9)
    assert default_ranker("toy").score(CandidateBatch.from_features(X)) == pytest.approx(
        model.score(CandidateBatch.from_features(X)), abs=1e-4)
    (tmp_path / "default-toy" / "model.txt").write_text("not a model")
    with caplog.at_level("WARNING"):
        assert isinstance(default_ranker("toy"), LinearRanker)
    assert "not usable" in caplog.text
