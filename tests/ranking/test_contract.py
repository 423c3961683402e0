"""Every ranker passes one contract: score, explain, save and load."""
from __future__ import annotations

import numpy as np
import pytest

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking import RANKERS, CandidateBatch, LinearRanker, Ranker, load_ranker
from shoprank.ranking.base import fallback_value


def _batch(n=30, seed=0) -> tuple[CandidateBatch, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
    y = np.digitize(X[:, FEATURE_NAMES.index("cos_text")] + X[:, FEATURE_NAMES.index("bm25_title")], [-1, 0, 1])
    return CandidateBatch.from_features(X), y


def _rearranged(b: CandidateBatch, seed=0) -> CandidateBatch:
    """``b``'s rows with its columns in another order and one no ranker knows in the middle."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(b.names))
    names = [b.names[j] for j in order]
    mid = len(names) // 2
    names.insert(mid, "not_a_feature")
    return CandidateBatch.from_features(np.insert(b.X[:, order], mid, rng.normal(size=len(b)), axis=1), names)


class RankerContract:
    """Subclasses supply ``make_ranker``."""

    def make_ranker(self) -> Ranker:
        raise NotImplementedError

    # A class-scoped fixture is a classmethod: pytest runs it once per class, not per instance.
    @pytest.fixture(scope="class")
    @classmethod
    def ranker(cls):
        return cls().make_ranker()

    def test_registered_by_name(self, ranker):
        assert ranker.name in RANKERS and isinstance(ranker, RANKERS.get_class(ranker.name))

    def test_one_score_per_candidate_and_none_for_no_candidates(self, ranker):
        b, _ = _batch()
        s = ranker.score(b)
        assert s.shape == (len(b),) and np.isfinite(s).all()
        assert ranker.score(CandidateBatch.from_features(np.zeros((0, len(FEATURE_NAMES)), np.float32))).shape == (0,)

    def test_contributions_add_up_to_the_score(self, ranker):
        b, _ = _batch()
        s = ranker.score(b)
        contrib = ranker.explain(b)
        assert contrib.shape == (len(b), len(FEATURE_NAMES))
        assert contrib.sum(axis=1) + ranker.base_score() == pytest.approx(s, abs=1e-4)
        assert ranker.explain(b, [4, 2]) == pytest.approx(contrib[[4, 2]], abs=1e-5)

    def test_ranks_relevant_items_higher(self, ranker):
        b, y = _batch(200, seed=1)
        assert np.corrcoef(ranker.score(b), y)[0, 1] > 0.3

    def test_reads_its_features_by_name(self, ranker):
        b, _ = _batch()
        other = _rearranged(b)
        assert np.array_equal(ranker.score(other), ranker.score(b))
        contrib, again = ranker.explain(b), ranker.explain(other)
        assert ranker.explained_names(other) == other.names  # aligned with the batch's columns
        assert np.array_equal(again[:, [other.names.index(n) for n in b.names]], contrib)
        assert (again[:, other.names.index("not_a_feature")] == 0).all()

    def test_a_feature_the_batch_lacks_gets_its_fallback_and_is_explained_by_name(self, ranker):
        b, _ = _batch()
        lost = "cos_text"  # what every ranker here reads most
        keep = [n for n in b.names if n != lost]
        lacking = CandidateBatch.from_features(b.columns(keep), keep)
        filled = b.X.copy()
        filled[:, b.names.index(lost)] = fallback_value(lost)
        s = ranker.score(lacking)
        assert np.array_equal(s, ranker.score(CandidateBatch.from_features(filled)))
        assert ranker.explained_names(lacking) == [*keep, lost]
        assert ranker.explain(lacking).sum(axis=1) + ranker.base_score() == pytest.approx(s, abs=1e-4)

    def test_save_and_load_give_the_same_scores(self, ranker, tmp_path):
        ranker.save(tmp_path / "m")
        again = load_ranker(tmp_path / "m")
        assert type(again) is type(ranker)
        b, _ = _batch()
        assert again.score(b) == pytest.approx(ranker.score(b), abs=1e-4)


class TestLinearRanker(RankerContract):
    def make_ranker(self) -> Ranker:
        return LinearRanker({n: 0.0 for n in FEATURE_NAMES} | {"cos_text": 1.0, "bm25_title": 1.0, "rating": 0.1})


class TestLambdaMARTRanker(RankerContract):
    def make_ranker(self) -> Ranker:
        pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
        from shoprank.ranking.lgbm import LambdaMARTRanker

        rng = np.random.default_rng(3)
        X = rng.normal(size=(600, len(FEATURE_NAMES))).astype(np.float32)
        y = np.digitize(X[:, FEATURE_NAMES.index("cos_text")] + X[:, FEATURE_NAMES.index("bm25_title")], [-1, 0, 1])
        return LambdaMARTRanker.fit(X, y, [20] * 30, num_rounds=30, backend="lightgbm")


class TestDefaultRanker(RankerContract):
    def make_ranker(self) -> Ranker:
        pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
        from shoprank.ranking.default import DefaultRanker

        rng = np.random.default_rng(3)
        X = rng.normal(size=(600, len(FEATURE_NAMES))).astype(np.float32)
        X[:, FEATURE_NAMES.index("rating")] = 0.0  # never varies in training: a fallback term
        y = np.digitize(X[:, FEATURE_NAMES.index("cos_text")] + X[:, FEATURE_NAMES.index("bm25_title")], [-1, 0, 1])
        return DefaultRanker.fit(X, y, [20] * 30, num_rounds=30)


def test_settings_pick_the_ranker_and_check_a_saved_model(tmp_path):
    from shoprank import factory
    from shoprank.config import Settings

    assert isinstance(factory.ranker(Settings(ranker="linear")), LinearRanker)
    # The default ranker serves the linear one for an encoder no model ships for.
    assert isinstance(factory.ranker(Settings(text_encoder="hashing")), LinearRanker)
    with pytest.raises(ValueError, match="needs SHOPRANK_RANKER_MODEL"):
        factory.ranker(Settings(ranker="lambdamart"))
    LinearRanker({"rating": 3.0}).save(tmp_path / "lin")
    served = factory.ranker(Settings(ranker="linear", ranker_model=tmp_path / "lin"))
    assert isinstance(served, LinearRanker) and served.weights["rating"] == 3.0
    with pytest.raises(ValueError, match="holds a linear ranker, not lambdamart"):
        factory.ranker(Settings(ranker="lambdamart", ranker_model=tmp_path / "lin"))
