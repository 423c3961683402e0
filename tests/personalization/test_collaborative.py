"""Collaborative filtering: one contract for every backend, plus backend specifics and real OTTO data."""
from __future__ import annotations

import math
import sys
import warnings
from collections import defaultdict

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import DATA_DIR
from shoprank.personalization.collaborative import ALSRecommender, ItemItemCF, Recommender, history_from_events
from shoprank.personalization.store.base import StoredEvent
from shoprank.types import Event

OTTO = DATA_DIR / "behaviour" / "otto_sample" / "train.jsonl"


def _ev(owner: str, item: str, typ: str = "click", user: bool = True) -> Event:
    return Event(user_id=owner, product_id=item, type=typ) if user else Event(session_id=owner, product_id=item,
                                                                               type=typ)


# a and b always go together, so do c and d; e shares one owner with b. Weights (max per
# owner-item): u1 a=1 b=1; u2 a=3 b=5; s3 c=1 d=1; u4 c=1 d=3; u5 b=1 e=1.
EVENTS = [
    _ev("u1", "a"), _ev("u1", "b"), _ev("u1", "a"),
    _ev("u2", "a", "cart"), _ev("u2", "b", "click"), _ev("u2", "b", "purchase"),
    _ev("s3", "c", user=False), _ev("s3", "d", user=False),
    _ev("u4", "c"), _ev("u4", "d", "cart"),
    _ev("u5", "b"), _ev("u5", "e"),
]


class RecommenderContract:
    """What every backend promises. Subclasses supply ``_model(**kwargs)`` only."""

    def _model(self, **kwargs) -> Recommender:
        raise NotImplementedError

    @pytest.fixture
    def model(self) -> Recommender:
        return self._model().fit(EVENTS)

    def test_vocabulary(self, model):
        assert model.n_items == 5 and model.n_owners == 5
        assert model.known("a") and not model.known("zzz")

    def test_related_finds_the_item_bought_alongside(self, model):
        assert model.related("a", 3)[0][0] == "b"
        assert model.related("c", 3)[0][0] == "d"
        assert all(p != "a" for p, _ in model.related("a", 10))
        assert model.related("zzz", 3) == [] and model.related("a", 0) == []

    def test_recommend_ranks_partner_first_and_excludes_history(self, model):
        recs = model.recommend([("a", 1.0)], k=3)
        assert recs[0][0] == "b"
        assert "a" not in [p for p, _ in recs]
        assert [s for _, s in recs] == sorted((s for _, s in recs), reverse=True)
        assert "b" not in [p for p, _ in model.recommend([("a", 1.0)], k=3, exclude={"b"})]
        assert model.recommend([("c", 1.0)], k=1)[0][0] == "d"

    def test_new_user_gets_recommendations_from_live_history(self, model):
        # An owner never seen at training time, with unknown and duplicate items in the history.
        hist = [("never-seen", 5.0), ("c", 1.0), ("c", 0.5)]
        recs = model.recommend(hist, k=2)
        assert recs and recs[0][0] == "d"
        assert model.recommend([], k=5) == []
        assert model.recommend([("never-seen", 1.0)], k=5) == []

    def test_score_is_vectorised_zero_for_unknown_and_agrees_with_recommend(self, model):
        hist = [("a", 1.0)]
        ids = ["b", "zzz", "d", "b", "e"]
        s = model.score(hist, ids)
        assert isinstance(s, np.ndarray) and s.shape == (5,) and s.dtype == np.float32
        assert s[1] == 0.0
        assert s[0] == s[3] and s[0] > s[2]
        recs = dict(model.recommend(hist, k=5))
        for pid, val in zip(ids, s):
            if pid in recs:
                assert val == pytest.approx(recs[pid], rel=1e-5, abs=1e-6)
        assert not model.score([], ids).any()
        assert model.score(hist, []).shape == (0,)

    def test_accepts_stored_events_and_is_deterministic(self, model):
        stored = [StoredEvent(seq=i, event=e, ts=float(i)) for i, e in enumerate(EVENTS, 1)]
        again = self._model().fit(iter(stored))  # any iterable, consumed once
        ids = ["a", "b", "c", "d", "e"]
        for hist in ([("a", 1.0)], [("c", 3.0), ("e", 1.0)]):
            np.testing.assert_array_equal(again.score(hist, ids), model.score(hist, ids))

    def test_save_load_round_trip(self, model, tmp_path):
        model.save(tmp_path / "m")
        assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["arrays.npz", "model.json"]
        back = Recommender.load(tmp_path / "m")
        assert type(back) is type(model)
        assert type(model).load(tmp_path / "m").n_items == model.n_items
        assert (back.n_items, back.n_owners) == (model.n_items, model.n_owners)
        ids = ["a", "b", "c", "d", "e", "zzz"]
        for hist in ([("a", 1.0)], [("d", 3.0), ("b", 1.0)]):
            np.testing.assert_array_equal(back.score(hist, ids), model.score(hist, ids))
        assert back.related("a", 3) == model.related("a", 3)
        assert back.recommend([("a", 1.0)], 3) == model.recommend([("a", 1.0)], 3)

    def test_event_type_filter_gives_bought_together(self):
        m = self._model(event_types={"cart", "purchase"}).fit(EVENTS)
        # Only u2 (a cart, b purchase) and u4 (d cart) have such events.
        assert m.n_owners == 2 and m.n_items == 3
        assert not m.known("c") and not m.known("e")
        assert m.related("a", 2)[0][0] == "b"
        with pytest.raises(ValueError):
            self._model(event_types={"like"})

    def test_fit_without_events_is_an_error(self):
        with pytest.raises(ValueError, match="no events"):
            self._model().fit([])
        with pytest.raises(ValueError, match="no events"):
            self._model(event_types={"view"}).fit(EVENTS)

    def test_popular_fallback(self, model):
        assert model.popular(1) == [("b", 3.0)]  # b has 3 owners
        assert "b" not in [p for p, _ in model.popular(5, exclude={"b"})]


class TestItemItemCF(RecommenderContract):
    def _model(self, **kwargs) -> Recommender:
        return ItemItemCF(**kwargs)

    def test_cosine_values_by_hand(self, model):
        # co(a,b) = 1·1 + 3·5 = 16, n_a = 1 + 9, n_b = 1 + 25 + 1  →  16 / sqrt(270)
        # co(b,e) = 1, n_e = 1                                    →  1 / sqrt(27)
        # co(c,d) = 1·1 + 1·3 = 4, n_c = 2, n_d = 10              →  4 / sqrt(20)
        assert model.related("a", 5) == [("b", pytest.approx(16 / math.sqrt(270), rel=1e-6))]
        assert model.related("b", 5) == [("a", pytest.approx(16 / math.sqrt(270), rel=1e-6)),
                                         ("e", pytest.approx(1 / math.sqrt(27), rel=1e-6))]
        assert model.related("c", 5) == [("d", pytest.approx(4 / math.sqrt(20), rel=1e-6))]
        # Scores are the weighted mean similarity to the history.
        s = model.score([("a", 1.0), ("e", 3.0)], ["b"])
        assert s[0] == pytest.approx((16 / math.sqrt(270) + 3 / math.sqrt(27)) / 4, rel=1e-6)

    def test_similarity_is_sparse_pruned_and_blockwise(self):
        m = ItemItemCF(max_neighbors=1, block_size=2).fit(EVENTS)
        assert sp.issparse(m.similarity) and m.similarity.shape == (5, 5)
        assert m.similarity.diagonal().sum() == 0
        assert np.diff(m.similarity.indptr).max() == 1
        assert [p for p, _ in m.related("b", 5)] == ["a"]
        full = ItemItemCF(block_size=10_000).fit(EVENTS)
        small = ItemItemCF(block_size=1).fit(EVENTS)
        assert (full.similarity != small.similarity).nnz == 0

    def test_shrink_damps_rare_pairs(self):
        m = ItemItemCF(shrink=10.0).fit(EVENTS)
        assert m.related("b", 2)[1][1] == pytest.approx(1 / (math.sqrt(27) + 10), rel=1e-6)


class TestALSRecommender(RecommenderContract):
    def _model(self, **kwargs) -> Recommender:
        pytest.importorskip("implicit", reason="pip install 'shoprank[cf]'")
        kwargs.setdefault("factors", 8)
        return ALSRecommender(**kwargs)

    def test_user_factor_matches_implicit_recalculate_user(self, model):
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):  # keeps implicit's BLAS warning away
            als = AlternatingLeastSquares(factors=8, regularization=model.regularization)
        als.item_factors = model.item_factors
        hist = [("a", 1.0), ("b", 5.0), ("e", 1.0)]
        idx = np.array([model._index[p] for p, _ in hist])
        row = sp.csr_matrix((model.confidence(np.array([w for _, w in hist])), (np.zeros(3, int), idx)),
                            shape=(1, model.n_items))
        expected = als.recalculate_user(0, row)
        np.testing.assert_allclose(model.user_factor(hist), expected, rtol=1e-3, atol=1e-4)

    def test_fit_emits_no_threadpool_warning(self, monkeypatch):
        implicit_utils = pytest.importorskip("implicit.utils", reason="pip install 'shoprank[cf]'")
        monkeypatch.setattr(implicit_utils, "_checked_blas_config", False)  # implicit checks once a process
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ALSRecommender(factors=4, iterations=2).fit(EVENTS)

    def test_missing_implicit_says_how_to_install(self, monkeypatch):
        monkeypatch.setitem(sys.modules, "implicit.cpu.als", None)  # makes the import fail
        with pytest.raises(ImportError, match=r"pip install 'shoprank\[cf\]'"):
            ALSRecommender().fit(EVENTS)


# -- real sessions ---------------------------------------------------------------------------------

@pytest.mark.skipif(not OTTO.is_file(), reason=f"OTTO sample not found at {OTTO} (set SHOPRANK_DATA_DIR)")
def test_otto_next_item_hit_rate_vs_popularity():
    """Hold out the last clicked new item of each session with >= 5 distinct items.

    Training sees every session without the held-out (session, item) events; each held-out
    session's earlier events form a history, and we count how often the held-out item is in
    recommend()'s top 20 versus the 20 most popular items not in the history. Re-clicks of an
    item already in the session are not targets: both methods exclude seen items by design.
    """
    from shoprank.personalization.importers import load_otto

    events = load_otto(OTTO).events
    by_session: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        by_session[e.owner].append(e)
    held: dict[str, tuple[str, list[Event]]] = {}
    for sid, evs in by_session.items():
        evs.sort(key=lambda e: e.ts)
        if len({e.product_id for e in evs}) < 5:
            continue
        for j in range(len(evs) - 1, 0, -1):
            e = evs[j]
            if e.type == "click" and all(x.product_id != e.product_id for x in evs[:j]):
                held[sid] = (e.product_id, evs[:j])
                break
    train = [e for e in events if not (e.owner in held and e.product_id == held[e.owner][0])]
    model = ItemItemCF().fit(train)
    hits_cf = hits_pop = known = 0
    for target, before in held.values():
        hist = history_from_events(before)
        seen = {p for p, _ in hist}
        hits_cf += target in {p for p, _ in model.recommend(hist, 20)}
        hits_pop += target in {p for p, _ in model.popular(20, exclude=seen)}
        known += model.known(target)
    n = len(held)
    print(f"\nOTTO sample: {n} held-out sessions, {known} targets seen in other sessions; "
          f"hit-rate@20 item-item CF {hits_cf / n:.3f}, popularity {hits_pop / n:.3f}")
    assert n == 9
    assert hits_cf >= hits_pop
