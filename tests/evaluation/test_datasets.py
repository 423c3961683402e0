from collections import Counter

from conftest import DATA_DIR, needs_luma
from shoprank.evaluation.datasets import load_dataset

pytestmark = needs_luma  # the whole data bundle comes together


def test_crowdflower_gains_and_products():
    ds = load_dataset("crowdflower", DATA_DIR)
    assert len(ds.queries) == 261 and ds.searchable
    gains = Counter(g for q in ds.qrels.values() for g in q.values())
    assert set(gains) == {0, 1, 2, 3}  # median rating 1..4 -> 0..3
    ids = {p.id for p in ds.products}
    assert all(pid in ids for q in ds.qrels.values() for pid in q)


def test_homedepot_sample_is_reproducible():
    a = load_dataset("homedepot", DATA_DIR, max_queries=50, seed=1)
    b = load_dataset("homedepot", DATA_DIR, max_queries=50, seed=1)
    assert len(a.queries) == 50 and a.queries == b.queries
    assert set(g for q in a.qrels.values() for g in q.values()) <= set(range(7))


def test_unsearchable_sets_say_why():
    esci = load_dataset("esci", DATA_DIR)
    assert len(esci.queries) == 150 and not esci.searchable and "ASIN" in esci.note
    assert set(g for q in esci.qrels.values() for g in q.values()) == {100, 10, 1, 0}
    wands = load_dataset("wands", DATA_DIR)
    assert len(wands.queries) == 480 and not wands.qrels and "label" in wands.note
