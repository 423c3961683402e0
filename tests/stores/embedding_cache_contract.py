"""What every :class:`~shoprank.encoders.cache.EmbeddingCache` backend must do."""
from __future__ import annotations

import numpy as np

from shoprank.encoders.cache import EmbeddingCache, content_key
from stores.contract import StoreContract, run_threads


def vec(seed: int, dim: int = 8) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


class EmbeddingCacheContract(StoreContract[EmbeddingCache]):
    def test_vectors_and_payloads_come_back_exactly(self):
        cache = self.open()
        items = [("k1", vec(1), {"labels": [["cat", 0.5]]}), ("k2", vec(2), None), ("k3", np.float32([1e-38, -0.0]), 7)]
        cache.put_many("ns", items)
        got = cache.get_many("ns", ["k1", "k2", "k3"])
        for key, v, meta in items:
            assert got[key][0].dtype == np.float32 and got[key][0].tobytes() == v.tobytes()
            assert got[key][1] == meta

    def test_missing_keys_are_left_out_and_repeats_are_fine(self):
        cache = self.open()
        cache.put_many("ns", [("k1", vec(1), None)])
        assert set(cache.get_many("ns", ["k1", "nope", "k1"])) == {"k1"}
        assert cache.get_many("ns", []) == {}

    def test_namespaces_are_apart(self):
        cache = self.open()
        cache.put_many("model-a", [("k", vec(1), None)])
        cache.put_many("model-b", [("k", vec(2, dim=4), "b")])
        assert cache.get_many("model-a", ["k"])["k"][0].tobytes() == vec(1).tobytes()
        assert cache.get_many("model-b", ["k"])["k"][1] == "b"
        assert cache.get_many("model-c", ["k"]) == {}

    def test_a_put_again_replaces_and_written_counts_puts(self):
        cache = self.open()
        assert cache.written == 0
        cache.put_many("ns", [("k", vec(1), 1)])
        cache.put_many("ns", [("k", vec(2), 2), ("j", vec(3), None)])
        got = cache.get_many("ns", ["k"])["k"]
        assert got[0].tobytes() == vec(2).tobytes() and got[1] == 2
        assert cache.written == 3

    def test_many_keys_at_once(self):
        cache = self.open()
        keys = [content_key(str(i)) for i in range(1200)]
        cache.put_many("ns", [(k, vec(i, dim=2), None) for i, k in enumerate(keys)])
        got = cache.get_many("ns", keys)
        assert len(got) == 1200 and got[keys[1199]][0].tobytes() == vec(1199, dim=2).tobytes()

    def test_threads_and_another_handle_share_it(self):
        a, b = self.open(), self.open()
        run_threads(4, lambda i: [(a, b)[i % 2].put_many("ns", [(f"{i}-{j}", vec(j), None)]) for j in range(25)])
        keys = [f"{i}-{j}" for i in range(4) for j in range(25)]
        assert len(a.get_many("ns", keys)) == len(b.get_many("ns", keys)) == 100
        a.close()
        assert len(self.open().get_many("ns", keys)) == 100
