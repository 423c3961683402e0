import pytest

from shoprank.retrieval.fusion import linear_fuse, min_max, rrf_fuse


def test_rrf_matches_hand_computation():
    runs = {"a": [(1, 9.0), (2, 5.0), (3, 1.0)], "b": [(3, 0.9), (1, 0.8)]}
    fused = dict(rrf_fuse(runs, k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[2] == pytest.approx(1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert [i for i, _ in rrf_fuse(runs, k=60)] == [1, 3, 2]


def test_rrf_weights_and_zero_weight():
    runs = {"a": [(1, 1.0)], "b": [(2, 1.0)]}
    assert rrf_fuse(runs, k=0, weights={"a": 2.0, "b": 1.0}) == [(1, 2.0), (2, 1.0)]
    assert rrf_fuse(runs, weights={"a": 0.0}) == [(2, pytest.approx(1 / 61))]


def test_min_max_and_linear_fusion():
    assert min_max([(1, 10.0), (2, 5.0), (3, 0.0)]) == {1: 1.0, 2: 0.5, 3: 0.0}
    assert min_max([(7, 3.0)]) == {7: 1.0}
    runs = {"bm25": [(1, 10.0), (2, 0.0)], "text": [(2, 0.9), (3, 0.7), (1, 0.5)]}
    fused = dict(linear_fuse(runs, {"bm25": 1.0, "text": 0.5}))
    assert fused[1] == pytest.approx(1.0 + 0.5 * 0.0)
    assert fused[2] == pytest.approx(0.0 + 0.5 * 1.0)
    assert fused[3] == pytest.approx(0.5 * 0.5)
