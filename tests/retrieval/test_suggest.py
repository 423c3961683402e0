import time
import tracemalloc

import pytest

from shoprank.catalog import Catalog
from shoprank.retrieval.suggest import Suggester, Suggestion
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
    keys = s._ready().base  # entries and keys are made on the first lookup
    pos = len(s._entries) - 1
    assert s._entries[pos].product_id == "long" and len(s._entries[pos].text) <= 200
    mine = [key for key, i in keys if i == pos]
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


def _entries(s: Suggester) -> list[Suggestion]:
    s._ready()
    return sorted((e for e in s._entries if e is not None), key=lambda e: (e.kind, e.text))


@pytest.mark.parametrize("looked_up", [True, False], ids=["entries-made", "before-the-first-lookup"])
def test_kept_current_through_catalog_writes_it_equals_one_built_afresh(looked_up):
    """Titles and category counts follow adds, deletes, content changes and review counts as a
    suggester built over the catalog afterwards has them, variants folding into live models."""
    import random

    rng = random.Random(7)
    words = ["trail", "pack", "mug", "tee", "lamp", "desk", "背包", "red"]
    cats = ["Bags/Backpacks", "Home/Kitchen", "Men/Tops/Tees", "Bags", "Home/Lighting"]

    def product(pid: str, parent: str | None = None) -> Product:
        return Product(id=pid, title=" ".join(rng.sample(words, 2)).title(), parent_id=parent,
                       categories=rng.sample(cats, rng.randint(0, 2)), review_count=rng.randint(0, 9))

    catalog = Catalog([product("p0"), product("p0-a", "p0"), product("p1")])
    s = Suggester(catalog)
    if looked_up:
        s.suggest("t")  # entries and keys made: later ones go to the added run
    for step in range(300):
        ids = [p.id for p in catalog.live()]
        op = rng.random()
        if op < 0.4 or not ids:  # a new product, a variant of a live or a gone model half the time
            pid = f"n{step}"
            parent = rng.choice(ids + ["p0", "gone"]) if rng.random() < 0.5 else None
            new = [product(pid, parent if parent != pid else None)]
        elif op < 0.6:  # new content for a live product: a new position, the old one dropped
            old = catalog.get(rng.choice(ids))
            new = [product(old.id, old.parent_id)]
        elif op < 0.8:  # a delete
            pos = catalog.remove(rng.choice(ids))
            s.drop([pos])
            continue
        else:  # a review count changed in place
            pid = rng.choice(ids)
            pos = catalog.position(pid)
            catalog.replace(pos, catalog.get(pid).model_copy(update={"review_count": rng.randint(0, 50)}))
            s.refresh([pos])
            continue
        positions = [catalog.stage(p) for p in new]
        s.extend(new)
        replaced = [catalog.position(p.id) for p in new if p.id in catalog]
        for p, pos in zip(new, positions, strict=True):
            catalog.publish(p.id, pos)
        s.drop(replaced)
        if step % 100 == 99:
            fresh = Suggester(catalog)
            assert _entries(s) == _entries(fresh)
            for typed in ["t", "tr", "bags", "home ›", "背", "red m", "lamp d", "z"]:
                assert s.suggest(typed, k=20) == fresh.suggest(typed, k=20), typed
