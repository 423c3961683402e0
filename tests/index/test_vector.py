import numpy as np

from shoprank.encoders.base import l2_normalize
from shoprank.index.vector import FaissVectorIndex as VectorIndex


def _data(n=300, d=16, seed=0):
    return l2_normalize(np.random.default_rng(seed).normal(size=(n, d)))


def test_exact_search_matches_numpy():
    X = _data()
    idx = VectorIndex.build(X)
    assert idx.exact
    q = X[7]
    got = idx.search(q, 5)
    want = np.argsort(-(X @ q))[:5]
    assert [i for i, _ in got] == list(want)
    assert got[0][1] == np.float32(1.0) or abs(got[0][1] - 1.0) < 1e-5


def test_hnsw_above_limit_finds_near_duplicates():
    X = _data(2000)
    idx = VectorIndex.build(X, exact_limit=1000)
    assert not idx.exact
    hits = sum(idx.search(X[i], 1)[0][0] == i for i in range(0, 2000, 40))
    assert hits >= 48  # of 50


def test_owners_keep_best_row_per_product(tmp_path):
    X = _data(6)
    owners = np.array([0, 0, 1, 1, 2, 2])
    idx = VectorIndex.build(X, owners)
    res = idx.search(X[3], 3)
    assert res[0] == (1, res[0][1]) and abs(res[0][1] - 1.0) < 1e-5
    assert sorted(o for o, _ in res) == [0, 1, 2]
    idx.save(tmp_path / "v")
    again = VectorIndex.load(tmp_path / "v")
    assert again.search(X[3], 3) == res
