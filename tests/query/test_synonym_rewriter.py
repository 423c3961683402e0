"""The synonym rewriter: whole words and phrases, any case, both directions of a multi-way set,
one direction of a one-way set, cross-language terms; and what it does to a search."""
from __future__ import annotations

import pytest

from shoprank.engine import ShopRank
from shoprank.query.synonym_store import MemorySynonymStore, Synonyms, SynonymSet, parse_synonym_lines, set_id
from shoprank.query.synonyms import MAX_ALTERNATIVES, SYNONYM_WEIGHT, SynonymRewriter, compile_sets, synonym_rewrites
from shoprank.types import Query

SETS = Synonyms(1, {
    "bags": SynonymSet(terms=["rucksack", "backpack", "knapsack"]),
    "tee": SynonymSet(input="tee", terms=["t-shirt"]),
    "shirt": SynonymSet(terms=["shirt", "blouse"]),
    "zh": SynonymSet(terms=["背包", "backpack"]),
    "phrase": SynonymSet(terms=["coffee mug", "cup"]),
})


def alternatives(text: str) -> list[tuple[str, str]]:
    return [(r.text, r.reason) for r in synonym_rewrites(text, compile_sets(SETS))]


def test_a_multi_way_set_brings_in_the_others_from_any_of_its_terms():
    assert alternatives("red rucksack") == [("red backpack", "rucksack = backpack"),
                                            ("red knapsack", "rucksack = knapsack")]
    assert ("red rucksack", "backpack = rucksack") in alternatives("red backpack")
    assert all(r.origin == "synonym" and r.weight == SYNONYM_WEIGHT and not r.replaces
               for r in synonym_rewrites("red rucksack", compile_sets(SETS)))


def test_a_one_way_set_goes_one_way():
    assert alternatives("white tee") == [("white t-shirt", "tee → t-shirt")]
    assert ("white tee", "t-shirt → tee") not in alternatives("white t-shirt")


def test_whole_words_and_phrases_in_any_case():
    assert alternatives("RUCKSACKS") == []  # not a whole word
    assert alternatives("Rucksack")[0][0] == "backpack"
    assert alternatives("white t-shirt") == []  # "shirt" inside "t-shirt" is no word of its own
    assert alternatives("teenage") == []
    assert alternatives("blue coffee   mug") == [("blue cup", "coffee   mug = cup")]
    assert alternatives("coffee") == []


def test_cross_language_terms():
    assert alternatives("登山背包") == [("登山 backpack", "背包 = backpack")]
    assert ("红色 背包", "backpack = 背包") in alternatives("红色 backpack")


def test_alternatives_are_bounded():
    many = Synonyms(1, {"x": SynonymSet(terms=[f"w{i}" for i in range(20)])})
    assert len(synonym_rewrites("w0", compile_sets(many))) == MAX_ALTERNATIVES


def test_an_empty_store_adds_nothing():
    assert synonym_rewrites("rucksack", compile_sets(Synonyms())) == []


def test_bad_sets_are_refused():
    for bad in ({"terms": ["bag"]}, {"terms": ["bag", "BAG"]}, {"input": "tee", "terms": ["Tee"]}, {"terms": []},
                {"terms": ["a", " "]}, {"terms": ["a", "b"], "other": 1}):
        with pytest.raises(ValueError):
            SynonymSet.model_validate(bad)


def test_a_synonym_file():
    sets, errors = parse_synonym_lines("# bags\nrucksack, backpack, knapsack\n\ntee => t-shirt, tshirt\nlonely\n")
    assert list(sets.values()) == [SynonymSet(terms=["rucksack", "backpack", "knapsack"]),
                                   SynonymSet(input="tee", terms=["t-shirt", "tshirt"])]
    assert errors == ["line 5: a multi-way set needs at least two different terms"]
    # The same set has the same id: importing a file twice adds nothing.
    assert set_id(SynonymSet(terms=["Backpack", "rucksack"])) == set_id(SynonymSet(terms=["rucksack", "backpack"]))


@pytest.fixture(scope="module")
def engine(fake_engine):
    """An engine over the demo catalog whose synonym store is its own (artifacts handed over: in memory)."""
    settings = fake_engine.settings.model_copy(update={"query_rewriters": ["synonym"]})
    return ShopRank(fake_engine.artifacts, settings, fake_engine.text_encoder, fake_engine.image_encoder)


def test_an_edit_changes_the_very_next_search(engine):
    assert isinstance(engine.synonyms, MemorySynonymStore)
    q = Query(text="rucksack", k=3)
    assert engine.search(q).rewrites == [] and "bm25" not in engine.search(q).retrievers
    engine.synonyms.put("bags", SynonymSet(terms=["rucksack", "backpack"]))
    res = engine.search(q)
    assert [(r.text, r.reason) for r in res.rewrites] == [("backpack", "rucksack = backpack")]
    assert res.query_text == "rucksack" and "backpack" in res.hits[0].product.title.lower()
    engine.synonyms.delete("bags")
    assert engine.search(q).rewrites == []


def test_a_rewriter_made_by_hand_reads_no_store_until_bound():
    from shoprank.query.plan import QueryPlan

    assert SynonymRewriter().rewrite(QueryPlan(text="rucksack"), None) == []  # type: ignore[arg-type]


def test_a_one_word_synonym_scores_with_at_most_the_typed_words_idf():
    by_text = {r.text: r.idf_from for r in synonym_rewrites("red rucksack", compile_sets(SETS))}
    assert by_text == {"red backpack": (("backpack", "rucksack"),), "red knapsack": (("knapsack", "rucksack"),)}
    assert all(r.idf_from == () for r in synonym_rewrites("white tee", compile_sets(SETS)))  # t-shirt: two words
