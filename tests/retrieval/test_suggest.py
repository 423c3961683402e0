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
