"""The neural fusion rankers: the ranker contract for each variant, learning from a modality's
vectors, masking of missing modalities, attention weights."""
from __future__ import annotations

import numpy as np
import pytest
from test_contract import RankerContract

from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking import CandidateBatch, Ranker

torch = pytest.importorskip("torch", reason="pip install 'shoprank[neural]'")

from shoprank.ranking.neural import VARIANTS, ListInputs, NeuralFusionRanker  # noqa: E402

COS, BM25 = FEATURE_NAMES.index("cos_text"), FEATURE_NAMES.index("bm25_title")


def _feature_lists(n_lists=30, n=20, seed=3) -> list[ListInputs]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_lists):
        X = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)
        y = np.digitize(X[:, COS] + X[:, BM25], [-1, 0, 1]).astype(np.float32)
        out.append(ListInputs(X, [], [], [], y))
    return out


def _vector_lists(n_lists=40, n=24, d=8, seed=5) -> list[ListInputs]:
    """Relevance lives in the modality: grade = how close the candidate's vector is to the query's;
    a third of the candidates lack the modality (and are never relevant)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_lists):
        q = rng.normal(size=d).astype(np.float32)
        q /= np.linalg.norm(q)
        V = rng.normal(size=(n, d)).astype(np.float32)
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        P = rng.random(n) > 0.33
        V[~P] = 0
        cos = V @ q
        y = np.where(P, np.digitize(cos, [0.0, 0.4, 0.7]), 0).astype(np.float32)
        X = rng.normal(size=(n, len(FEATURE_NAMES))).astype(np.float32)  # features carry no signal
        out.append(ListInputs(X, [q], [V], [P], y))
    return out


def _ndcg10(scores: np.ndarray, y: np.ndarray) -> float:
    order = np.argsort(-scores)[:10]
    disc = 1 / np.log2(np.arange(2, 12))
    ideal = np.sort(y)[::-1][:10]
    idcg = float(((2 ** ideal - 1) * disc[: len(ideal)]).sum())
    return float(((2 ** y[order] - 1) * disc[: len(order)]).sum()) / idcg if idcg else 0.0


# The fast tier keeps the two cheapest variants; attention and the transformer (seconds to fit
# on two cores) run with the slow tier.
_SLOW_VARIANTS = {"attention", "transformer"}


def _contract(variant):
    class Contract(RankerContract):
        pytestmark = [pytest.mark.slow] if variant in _SLOW_VARIANTS else []

        def make_ranker(self) -> Ranker:
            return NeuralFusionRanker.fit(_feature_lists(), [], variant, epochs=25, patience=25, lr=3e-3)

    Contract.__name__ = f"TestNeural{variant.title()}Contract"
    return Contract


TestNeuralEarlyContract = _contract("early")
TestNeuralAttentionContract = _contract("attention")
TestNeuralTransformerContract = _contract("transformer")
TestNeuralLateContract = _contract("late")


@pytest.mark.parametrize("variant", [pytest.param(v, marks=[pytest.mark.slow] if v != "late" else [])
                                     for v in VARIANTS])
def test_learns_from_a_modality_and_masks_what_is_missing(variant):
    lists = _vector_lists()
    train, test = lists[:30], lists[30:]
    model = NeuralFusionRanker.fit(train, [("text", 8)], variant, epochs=40, patience=8, lr=3e-3, seed=1)
    learned = np.mean([_ndcg10(model._forward(li)[0], li.y) for li in test])
    rng = np.random.default_rng(0)
    chance = np.mean([_ndcg10(rng.normal(size=len(li.y)), li.y) for li in test])
    assert learned > chance + 0.15, (variant, learned, chance)
    li = test[0]
    base, _ = model._forward(li)
    li.V[0][~li.P[0]] = rng.normal(size=(int((~li.P[0]).sum()), 8))  # garbage where the modality is absent
    assert model._forward(li)[0] == pytest.approx(base, abs=1e-5)


def test_attention_weights_cover_the_present_modalities():
    lists = _vector_lists(n_lists=12)
    for li in lists:  # a second modality, present everywhere
        li.q.append(li.q[0][:4].copy())
        li.V.append(np.ones((len(li.X), 4), np.float32) / 2)
        li.P.append(np.ones(len(li.X), bool))
    model = NeuralFusionRanker.fit(lists, [("text", 8), ("image", 4)], "attention", epochs=3)
    _, w = model._forward(lists[0])
    P = lists[0].P[0]
    assert w[P].sum(1) == pytest.approx(np.ones(P.sum()), abs=1e-5)
    assert (w[~P, 0] == 0).all() and w[~P, 1] == pytest.approx(1.0)


def test_explanations_credit_the_modality_on_its_cosine_column():
    lists = _vector_lists()
    model = NeuralFusionRanker.fit(lists, [("text", 8)], "late", epochs=20, patience=5, lr=3e-3)
    li = lists[0]
    s = model._forward(li)[0]

    model._inputs = lambda batch: li  # type: ignore[method-assign]  # the list's vectors (no index here)
    contrib = model.explain(CandidateBatch.from_features(li.X))
    assert contrib.sum(1) + model.base_score() == pytest.approx(s, abs=1e-4)
    best = int(np.argmax(s))
    assert abs(contrib[best, COS]) > np.abs(np.delete(contrib[best], COS)).max()


def test_unknown_variant_and_nothing_to_learn_are_errors():
    with pytest.raises(ValueError, match="unknown variant"):
        NeuralFusionRanker.fit(_feature_lists(), [], "deep")  # type: ignore[arg-type]
    flat = [ListInputs(li.X, [], [], [], np.zeros(len(li.X), np.float32)) for li in _feature_lists(3)]
    with pytest.raises(ValueError, match="different grades"):
        NeuralFusionRanker.fit(flat, [], "early")


def test_served_from_a_saved_model_over_a_real_index(fake_engine, tmp_path):
    """Trained on the demo index's candidate batches (per-modality vectors from the index), saved,
    loaded by name from settings and served: searches rank and explain with it."""
    from shoprank import factory
    from shoprank.engine import ShopRank
    from shoprank.ranking.neural import index_modalities
    from shoprank.types import Query

    mods = index_modalities(fake_engine.artifacts)
    assert [m for m, _ in mods] == sorted(fake_engine.artifacts.modalities)
    lists = []
    for q in ("red backpack", "blue mug", "backpack", "coffee mug", "green bag", "mug"):
        c = fake_engine.candidates(Query(text=q, k=50, collapse_variants=False))
        y = np.array([sum(w in fake_engine.artifacts.catalog.products[p].title.lower() for w in q.split())
                      for p in c.positions], np.float32)
        lists.append(ListInputs.from_batch(c.batch, mods, y))
    assert any(li.q[i] is not None for li in lists for i in range(len(mods)))  # the text query has vectors
    model = NeuralFusionRanker.fit(lists, mods, "attention", epochs=3)
    model.save(tmp_path / "neural")
    settings = fake_engine.settings.model_copy(update={"ranker": "neural", "ranker_model": tmp_path / "neural"})
    served = ShopRank(fake_engine.artifacts, settings, ranker=factory.ranker(settings))
    res = served.search(Query(text="red backpack", k=5, explain=True))
    assert res.hits and res.hits[0].contributions
    total = sum(v for k, v in res.hits[0].contributions.items() if k != "base") + res.hits[0].contributions.get(
        "base", 0.0)
    assert total == pytest.approx(res.hits[0].score, abs=1e-3)
    weights = served.ranker.modality_weights(served.candidates(Query(text="red backpack", k=5)).batch)
    assert weights and all(abs(sum(w.values()) - 1) < 1e-4 for w in weights if w)
    # "Why this result": each hit carries its attention weights, in the engine and over HTTP.
    assert all(h.modality_weights and sum(h.modality_weights.values()) == pytest.approx(1, abs=1e-4)
               and set(h.modality_weights) <= {m for m, _ in mods} for h in res.hits)
    from fastapi.testclient import TestClient

    from shoprank.service import create_app

    with TestClient(create_app(served)) as client:
        body = client.post("/search", json={"q": "red backpack", "k": 3, "explain": True}).json()
        plain = client.post("/search", json={"q": "red backpack", "k": 3}).json()
    got = body["results"][0]["modality_weights"]
    assert got == pytest.approx({k: round(v, 4) for k, v in res.hits[0].modality_weights.items()}, abs=2e-4)
    assert plain["results"][0]["modality_weights"] == {}  # only asked-for explanations cost the extra pass



def test_scoring_flushes_denormals_for_its_own_forward_pass_only():
    """Denormals are flushed while a network scores (speed) and work again right after: the flag is
    the thread's CPU state, and the rest of the process (profiles, numpy) needs them."""
    lists = _feature_lists(n_lists=6)
    model = NeuralFusionRanker.fit(lists, [], "attention", epochs=1)
    model._forward(lists[0])
    assert (np.array([1e-38], np.float32) / np.float32(10))[0] > 0  # a float32 subnormal
    assert (torch.tensor([1e-38]) / 10).item() > 0
