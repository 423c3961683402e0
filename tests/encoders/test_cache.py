import numpy as np

from shoprank.encoders.cache import SQLiteEmbeddingCache, cached_encode, content_key


def test_cached_encode_computes_each_distinct_item_once(tmp_path):
    cache = SQLiteEmbeddingCache(tmp_path / "c.sqlite")
    calls: list[list[int]] = []
    items = ["a", "b", "a", "c"]

    def compute(idx):
        calls.append(idx)
        return np.array([[ord(items[i]), 1.0] for i in idx], np.float32), [{"i": items[i]} for i in idx]

    keys = [content_key(x) for x in items]
    v, m = cached_encode(cache, "ns", keys, compute, dim=2, batch_size=2)
    assert sorted(i for c in calls for i in c) == [0, 1, 3]
    assert v[2].tolist() == [97.0, 1.0] and m[2] == {"i": "a"}
    calls.clear()
    v2, _ = cached_encode(cache, "ns", keys, compute, dim=2)
    assert calls == [] and np.array_equal(v, v2)
    # Another namespace (another model) never reads these vectors.
    cached_encode(cache, "other", keys[:1], compute, dim=2)
    assert calls == [[0]]
