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


def _pans_and_packs() -> list[Product]:
    # 20 backpacks, 20 pans, one product with the rare word "backpan" (a typo's other candidate).
    return ([Product(id=f"pack{i}", title="Trail backpack", description="a bag") for i in range(20)]
            + [Product(id=f"pan{i}", title="Kitchen pan", description="a pan") for i in range(20)]
            + [Product(id="odd", title="Backpan special", description="a thing")])


def test_idf_from_scores_a_rare_word_with_its_references_idf():
    idx = LexicalIndex.in_memory()
    idx.add(list(enumerate(_pans_and_packs())))
    pack = idx.search("backpack", 1)[0][1]
    rare = idx.search("backpan", 1)
    assert rare[0][0] == 40 and rare[0][1] > 3 * pack  # its own IDF: more than thrice the common word's
    capped = idx.search("backpan", 1, idf_from={"backpan": "backpack"})
    assert capped[0][0] == 40 and abs(capped[0][1] - pack) < 1e-4  # same text length, same field: equal
    # Never raised: a reference rarer than the word leaves the word's own IDF.
    assert idx.search("backpack", 1, idf_from={"backpack": "backpan"})[0][1] == pack


def test_idf_from_naming_no_query_word_changes_nothing():
    idx = LexicalIndex.in_memory()
    idx.add(list(enumerate(_pans_and_packs())))
    plain = idx.search("trail backpack kitchen", 50)
    assert idx.search("trail backpack kitchen", 50, idf_from={"mug": "cup"}) == plain
    # The term-by-term query gives the parsed query's scores when no word is capped.
    same = idx.search("trail backpack kitchen", 50, idf_from={"trail": "trail"})
    assert [p for p, _ in same] == [p for p, _ in plain]
    assert max(abs(a[1] - b[1]) for a, b in zip(same, plain)) < 1e-5
