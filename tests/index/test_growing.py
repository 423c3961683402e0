"""Rows added while serving: appended in place, yet equal to a modality built with them, and
never visible to (or overwriting) an earlier snapshot."""
from __future__ import annotations

import numpy as np
import pytest

from shoprank.arrays import GrowingArray, appended, runs
from shoprank.encoders.base import l2_normalize
from shoprank.index.artifacts import Modality
from shoprank.index.vector import FaissVectorIndex


def _rows(n: int, seed: int, d: int = 8) -> np.ndarray:
    return l2_normalize(np.random.default_rng(seed).normal(size=(n, d))).astype(np.float32)


def test_a_growing_array_appends_in_place_and_leaves_earlier_views_alone():
    g = GrowingArray(np.arange(3.0))
    first = g.view()
    for i in range(20):  # crosses several doublings
        g.append(np.array([10.0 + i]))
    assert first.tolist() == [0.0, 1.0, 2.0]
    assert g.view().tolist() == [0.0, 1.0, 2.0, *(10.0 + i for i in range(20))]
    # An older view is not the latest: appending to it copies instead of overwriting.
    g2, out = appended(g, first, np.array([99.0]))
    assert g2 is not g and out.tolist() == [0.0, 1.0, 2.0, 99.0]
    assert g.view()[3] == 10.0


def test_runs_concatenate_index_ranges_and_skip_empty_ones():
    got = runs(np.array([5, 0, 9, 2]), np.array([2, 0, 3, 1]))
    assert got.tolist() == [5, 6, 9, 10, 11, 2]
    assert runs(np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == []


def test_a_modality_extended_write_by_write_equals_one_built_with_every_row():
    # 30 products with 1-3 rows each, then 12 products added in 5 writes (some with no rows).
    rng = np.random.default_rng(1)
    owners = np.repeat(np.arange(30), rng.integers(1, 4, size=30))
    vecs = _rows(len(owners), 2)
    m = Modality(vecs, FaissVectorIndex.build(vecs, owners))
    all_v, all_o = [vecs], [owners]
    pos = 30
    for write in range(5):
        new_o = np.repeat(np.arange(pos, pos + 3), rng.integers(0, 3, size=3))
        pos += 3 if write < 4 else 0
        new_v = _rows(len(new_o), 10 + write)
        m = m.extended(new_v, new_o)
        all_v.append(new_v)
        all_o.append(new_o)
    every_v, every_o = np.concatenate(all_v), np.concatenate(all_o)
    ref = Modality(every_v, FaissVectorIndex.build(every_v, every_o))
    assert np.array_equal(m.vectors, every_v) and np.array_equal(m.owners, every_o)
    positions = np.arange(pos + 2)  # and two positions that own nothing
    for p in positions:
        assert m.rows_of(int(p)).tolist() == ref.rows_of(int(p)).tolist()
    assert m.first_rows(positions).tolist() == ref.first_rows(positions).tolist()
    for q in _rows(5, 99):
        assert np.allclose(m.cosine_for(q, positions), ref.cosine_for(q, positions))
        got, want = m.index.search(q, 10), ref.index.search(q, 10)
        assert [o for o, _ in got] == [o for o, _ in want]
        assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-6)


def test_an_earlier_snapshot_keeps_its_rows_while_later_ones_grow():
    owners = np.arange(10)
    m0 = Modality(_rows(10, 0), FaissVectorIndex.build(_rows(10, 0), owners))
    m1 = m0.extended(_rows(1, 1), np.array([10]))
    m2 = m1.extended(_rows(1, 2), np.array([11]))
    seen = m1.vectors.copy()
    # A second branch from m1 must neither overwrite m2's row nor change m1.
    m2b = m1.extended(_rows(1, 3), np.array([11]))
    assert np.array_equal(m1.vectors, seen) and len(m1.index) == 11
    assert np.array_equal(m2.vectors[11], _rows(1, 2)[0])
    assert np.array_equal(m2b.vectors[11], _rows(1, 3)[0])
    assert 11 not in {o for o, _ in m1.index.search(_rows(1, 2)[0], 20)}  # m1 does not see position 11
    assert 11 in {o for o, _ in m2.index.search(_rows(1, 2)[0], 20)}
    with pytest.raises(ValueError, match="after every current owner"):
        m2.extended(_rows(1, 4), np.array([5]))
