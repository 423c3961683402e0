"""The cross-encoder reranker: its stack's columns, its rescoring of a search's top, its
explanations, and refusing what it cannot load (model-free: a fake pair scorer)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")

from fakes import tiny_engine
from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking.lgbm import LambdaMARTRanker
from shoprank.ranking.rerank import STACK_FEATURES, CrossEncoderReranker, save_reranker, stack_columns
from shoprank.types import Query


class Favours:
    """A pair scorer that likes texts naming ``word`` and is indifferent to the rest."""

    def __init__(self, word: str):
        self.word = word
        self.calls: list[tuple[str, int]] = []

    def score(self, query, texts):
        self.calls.append((query, len(texts)))
        return np.array([3.0 if self.word in t.lower() else 0.0 for t in texts], np.float32)


@pytest.fixture(scope="module")
def stack():
    """A stack trained where the grade follows the cross-encoder's score, and a little the first stage's."""
    rng = np.random.default_rng(0)
    X, y, groups = [], [], []
    for _ in range(80):
        n = 10
        ce, s1 = rng.normal(size=n), rng.normal(size=n)
        X.append(np.hstack([rng.normal(size=(n, len(FEATURE_NAMES))), stack_columns(s1, ce)]))
        signal = ce + 0.3 * s1
        y.append((signal == signal.max()) * 2 + (signal > 0))
        groups.append(n)
    return LambdaMARTRanker.fit(np.vstack(X).astype(np.float32), np.concatenate(y), groups, num_rounds=40,
                                feature_names=[*FEATURE_NAMES, *STACK_FEATURES])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_engine(tmp_path_factory.mktemp("tiny"))


def ids(res):
    return [h.product.id for h in res.hits]


def test_stack_columns_are_the_first_stage_then_the_cross_encoder():
    cols = stack_columns(np.array([3.0, 2.0, 1.0]), np.array([0.0, 1.0, 2.0]), top=30)
    assert cols.shape == (3, len(STACK_FEATURES))
    assert np.allclose(cols[:, 0], [1.2247, 0.0, -1.2247], atol=1e-4)  # z-scored first-stage score
    assert np.allclose(cols[:, 1], [0, 1 / 30, 2 / 30])                   # rank / top
    assert np.allclose(cols[:, 2], [0.0, 1.0, 2.0]) and cols[2, 3] > 0 > cols[0, 3]
    assert stack_columns(np.array([1.0, 1.0]), None).shape == (2, 2)      # a constant score stays finite


def test_reranks_only_the_top_and_keeps_the_rest_in_order_below(tiny, stack):
    q = Query(text="red fleece hoodie", k=20, collapse_variants=False)
    plain = ids(tiny.search(q))
    assert len(plain) > 4
    third = plain[2]
    scorer = Favours(tiny.product(third).title.lower())
    pipe = tiny.pipeline
    pipe.reranker = CrossEncoderReranker(scorer, stack, top=3)
    try:
        res = tiny.search(replace(q, explain=True))
    finally:
        pipe.reranker = None
    got = ids(res)
    assert scorer.calls == [("red fleece hoodie", 3)]      # the top 3 read, nothing else
    assert got[0] == third and set(got[:3]) == set(plain[:3])
    assert got[3:] == plain[3:]                           # the rest: the ranker's order, below
    assert min(h.score for h in res.hits[:3]) > max(h.score for h in res.hits[3:])
    assert "rerank" in res.timings_ms
    for h in res.hits:  # every explanation still adds up to the score shown
        assert sum(h.contributions.values()) == pytest.approx(h.score, abs=1e-4)
    top = res.hits[0]
    assert top.features["cross_encoder"] == 3.0 and top.contributions["cross_encoder"] > 0
    assert "first_stage" in top.contributions and "rerank_shift" in res.hits[3].contributions


def test_no_rerank_without_text_in_chinese_or_when_sorted(tiny, stack):
    scorer = Favours("mug")
    tiny.pipeline.reranker = CrossEncoderReranker(scorer, stack, top=3)
    try:
        tiny.search(Query(text="coffee mug", k=3, sort="price_asc"))
        tiny.search(Query(text="   ", k=3))
        tiny.search(Query(text="咖啡杯 mug", k=3))  # the cross-encoder reads English only
        assert scorer.calls == []
        tiny.search(Query(text="coffee mug", k=3))
        assert len(scorer.calls) == 1
    finally:
        tiny.pipeline.reranker = None


def test_load_refuses_a_folder_without_a_reranker_or_with_a_foreign_stack(tmp_path, stack):
    with pytest.raises(FileNotFoundError, match="reranker.json"):
        CrossEncoderReranker.load(tmp_path)
    plain = LambdaMARTRanker(stack.booster, [*FEATURE_NAMES, *STACK_FEATURES], "lightgbm")

    class Saved:  # what save_reranker needs of a cross-encoder, without a model
        max_length, pooling = 24, "mean"

        def export_onnx(self, out, runtime):
            out.mkdir(parents=True)

    save_reranker(tmp_path / "r", Saved(), plain)  # type: ignore[arg-type]
    meta = (tmp_path / "r" / "stack" / "ranker.json")
    saved = meta.read_text()
    # A stack reads its features by name, but at least the first stage's columns, with LambdaMART.
    for foreign in (saved.replace('"type": "lambdamart"', '"type": "linear"'), saved.replace('"stage1_z"', '"x"')):
        meta.write_text(foreign)
        with pytest.raises(ValueError, match="not a stack"):
            CrossEncoderReranker.load(tmp_path / "r")
    meta.write_text(saved.replace('"ce_z"', '"other"'))  # a list its model file does not hold
    with pytest.raises(ValueError, match="other features than its ranker.json"):
        CrossEncoderReranker.load(tmp_path / "r")


def test_the_stack_reads_the_features_by_name(stack):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, len(FEATURE_NAMES))).astype(np.float32)
    reranker = CrossEncoderReranker(Favours("x"), stack, top=5)
    texts, s1, rows = ["a x", "b", "c x", "d", "e"], np.arange(5, 0, -1.0), np.arange(5)
    plain = reranker.rerank("q", texts, X, s1, rows)
    order = rng.permutation(len(FEATURE_NAMES))
    moved = reranker.rerank("q", texts, X[:, order], s1, rows, [FEATURE_NAMES[j] for j in order])
    assert np.array_equal(moved.scores, plain.scores) and np.array_equal(moved.X, plain.X)
