from shoprank.index.analysis import analyze, query_terms
from shoprank.index.lexical import TantivyLexicalIndex as LexicalIndex
from shoprank.types import Product

PRODUCTS = [
    Product(id="a", title="Red Trail Backpack 红色登山背包", description="Waterproof pack for hiking",
            categories=["Bags/Backpacks"], attributes={"color": "Red"}),
    Product(id="b", title="Blue Coffee Mug", description="Ceramic mug, 350 ml", categories=["Home/Kitchen"]),
    Product(id="c", title="Running Shoes", description="Light shoes for running", categories=["Shoes"],
            attributes={"color": "Blue"}),
]


def test_cjk_bigrams():
    assert analyze("登山背包") .split() == ["登山", "山背", "背包"]
    assert query_terms('red "backpack" AND (title:x)') == ["red", "backpack", "and", "title", "x"]


def test_bm25_search_and_field_scores(tmp_path):
    idx = LexicalIndex.build(PRODUCTS, tmp_path / "lex")
    hits = idx.search("backpacks for hiking")
    assert hits[0][0] == 0  # stemming: backpacks -> backpack
    assert [p for p, _ in idx.search("背包")] == [0]
    assert idx.search("") == [] and idx.search("!!!") == []
    fs = idx.field_scores("blue mug", [1, 2])
    assert fs["title"][1] > 0 and 2 not in fs["title"]  # "Running Shoes" has neither word in its title
    assert 0 not in fs["title"] and 0 not in fs["description"]  # only the asked candidates are scored
    assert fs["attributes"].get(2, 0) > 0 and 1 not in fs["attributes"]
    reopened = LexicalIndex.open(tmp_path / "lex")
    assert reopened.search("mug")[0][0] == 1


def test_field_scores_same_when_restricted_to_the_candidates(tmp_path, monkeypatch):
    # Enough matches that a small fetch limit forces the search restricted to the candidates.
    mugs = [Product(id=f"m{i}", title=f"Mug {'blue ' * (i % 3)}{i}", description="mug " * (1 + i % 4))
            for i in range(60)]
    idx = LexicalIndex.build(PRODUCTS + mugs, tmp_path / "lex")
    cands = [1, 2, 7, 30, 61]
    fetched = idx.field_scores("blue mug", cands)
    monkeypatch.setattr(LexicalIndex, "fetch_all", 1)  # cap = 10 x 5 candidates < 61 matches
    restricted = idx.field_scores("blue mug", cands)
    assert fetched == restricted
    assert set(fetched["title"]) == {1, 7, 30, 61} and len(set(fetched["title"].values())) > 1
