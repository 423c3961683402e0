import time
import tracemalloc

import pytest

from shoprank.catalog import Catalog
from shoprank.retrieval.suggest import Suggester
from shoprank.types import Product

CATALOG = Catalog([
    Product(id="bp", title="Trail Backpack 登山背包", categories=["Bags/Backpacks"], review_count=9),
    Product(id="bp-red", title="Trail Backpack Red", parent_id="bp", categories=["Bags/Backpacks"]),
    Product(id="ts", title="Back Support Tee", categories=["Men/Tops/Tees"], review_count=2),
])


def test_prefix_of_any_word_past_queries_first():
    s = Suggester(CATALOG)
    s.update_queries({"backpack for hiking": 3, "bag": 1})
    got = [(x.text, x.kind) for x in s.suggest("back", k=5)]
    assert got[0] == ("backpack for hiking", "query")
    assert ("Bags › Backpacks", "category") in got
    # Variants fold into their model: one "Trail Backpack" entry.
    assert [t for t, k in got if k == "product"] == ["Back Support Tee", "Trail Backpack 登山背包"]


def test_chinese_matches_inside_a_title():
    assert [x.product_id for x in Suggester(CATALOG).suggest("背包")] == ["bp"]


def test_empty_prefix_gives_nothing():
    assert Suggester(CATALOG).suggest("  ") == []


def test_a_category_reads_as_a_path_and_names_it():
    s = Suggester(CATALOG)
    for typed in ("bags b", "Bags › Back", "backp"):
        cats = [x for x in s.suggest(typed) if x.kind == "category"]
        assert [(x.text, x.category) for x in cats] == [("Bags › Backpacks", "Bags/Backpacks")], typed


def _unvalidated(pid: str, title: str) -> Product:
    # Product caps titles at 4,000 characters; the suggester must stay bounded on its own.
    return Product.model_construct(**{**Product(id=pid, title="x").model_dump(), "title": title})


def test_keys_per_product_are_bounded_whatever_its_title():
    """Every word-suffix of a title was a key: quadratic in its length (a 900 KB title: > 6 GB)."""
    long_title = " ".join(f"word{i}" for i in range(5_000))
    s = Suggester(Catalog([*CATALOG, _unvalidated("long", long_title)]))
    pos = len(s._entries) - 1
    assert s._entries[pos].product_id == "long" and len(s._entries[pos].text) <= 200
    mine = [key for key, i in s._ready().base if i == pos]  # keys are made on the first lookup
    assert len(mine) == 16 and max(map(len, mine)) <= 48
    assert [x.product_id for x in s.suggest("word3")] == ["long"]
    assert s.suggest("word30") == []  # past the words an entry is found by


def test_a_typed_prefix_longer_than_a_key_is_checked_on_the_text():
    title = "Ultralight Waterproof Trail Running Jacket With Hood And Reflective Stripes"
    s = Suggester(Catalog([*CATALOG, Product(id="j", title=title), Product(id="k", title=title[:50] + " Other")]))
    assert [x.product_id for x in s.suggest(title[:60].lower())] == ["j"]
    assert [x.product_id for x in s.suggest("trail running jacket with hood and reflective")] == ["j"]
    assert {x.product_id for x in s.suggest(title[:40])} == {"j", "k"}


@pytest.mark.slow
def test_autocomplete_over_a_900_kb_title_stays_small_and_quick():
    """The first GET /suggest?q=ba after a 900 KB title was written allocated past 6 GB."""
    catalog = Catalog([*CATALOG, _unvalidated("huge", "Quibbleton " + "ba " * 300_000)])
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        s = Suggester(catalog)
        got = s.suggest("ba")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 2.0
    assert peak < 20 * 2**20, f"peak {peak / 2**20:.1f} MiB"
    assert "huge" in [x.product_id for x in got]
