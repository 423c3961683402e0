"""Per-candidate work on a modality: rows by owner, cosines of candidates only."""
from __future__ import annotations

import numpy as np

from shoprank.encoders.base import l2_normalize
from shoprank.index.artifacts import Modality
from shoprank.index.vector import FaissVectorIndex


def _modality(owners, d=8, seed=0):
    vecs = l2_normalize(np.random.default_rng(seed).normal(size=(len(owners), d)))
    return Modality(vecs, FaissVectorIndex.build(vecs, np.array(owners)))


def test_cosine_for_candidates_equals_the_best_row_by_brute_force():
    owners = [3, 0, 3, 1, 3, 5]  # product 3 has three rows, 2 and 4 none
    mod = _modality(owners)
    q = l2_normalize(np.random.default_rng(1).normal(size=8))
    sims = mod.vectors @ q
    cands = np.array([3, 2, 0, 5, 4, 1, 9])  # 9 is past the last owner
    want = [max((s for s, o in zip(sims, owners) if o == c), default=0.0) for c in cands]
    assert np.allclose(mod.cosine_for(q, cands), want, atol=1e-6)
    assert list(mod.rows_of(3)) == [0, 2, 4] and list(mod.rows_of(2)) == []
    assert list(mod.first_rows(np.array([3, 1, 2]))) == [0, 3, -1]


def test_empty_modality():
    mod = Modality(np.zeros((0, 4), np.float32), FaissVectorIndex.build(np.zeros((0, 4), np.float32)))
    assert list(mod.cosine_for(np.ones(4), np.array([0, 1]))) == [0.0, 0.0]
    assert mod.index.search(np.ones(4), 3) == []
