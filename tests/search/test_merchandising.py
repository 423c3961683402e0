"""The merchandising rule: when a rule applies, and how several rules share the page."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shoprank.engine import ShopRank
from shoprank.search.merch_rule import MerchRule, normalize_text, osa_distance, word_matches
from shoprank.search.merchandising import Merchandising, previewing
from shoprank.search.rule_index import RuleIndex
from shoprank.search.rule_store import SQLiteRuleStore
from shoprank.types import Filters, Query


@pytest.mark.parametrize(("rule", "texts", "category", "applies"), [
    (MerchRule(query="Backpack", pin=["p"]), ["backpack"], None, True),
    (MerchRule(query="backpack", pin=["p"]), ["red backpack"], None, False),
    (MerchRule(query="backpack", match="contains", pin=["p"]), ["red backpack"], None, True),
    (MerchRule(query="backpack", match="contains", pin=["p"]), ["backpacks"], None, False),  # whole words
    (MerchRule(query="背包", match="contains", pin=["p"]), ["红色背包"], None, True),  # no spaces in Chinese
    (MerchRule(query="backpack", pin=["p"]), ["bakpack", "backpack"], None, True),  # as typed or as searched
    (MerchRule(category="Bags/Backpacks", pin=["p"]), [], "/bags/backpacks/", True),
    (MerchRule(category="Bags/Backpacks", pin=["p"]), ["backpack"], "Bags/Backpacks", False),  # browse only
    (MerchRule(category="Bags/Backpacks", pin=["p"]), [], "Bags", False),
    (MerchRule(query="backpack", match="fuzzy", pin=["p"]), ["bakcpack"], None, True),  # a transposition
    (MerchRule(query="red backpack", match="fuzzy", pin=["p"]), ["red bakpack"], None, True),
    (MerchRule(query="red backpack", match="fuzzy", pin=["p"]), ["rex backpack"], None, False),  # short: exact
    (MerchRule(query="backpack", match="fuzzy", pin=["p"]), ["red backpack"], None, False),  # the same words
    (MerchRule(query="backpack", match="fuzzy", pin=["p"]), ["hackpack"], None, False),  # first letter kept
    (MerchRule(hide=["p"]), ["anything"], None, True),  # site-wide
    (MerchRule(hide=["p"]), [], "Bags", True),
])
def test_when_a_rule_applies(rule, texts, category, applies):
    assert rule.applies([normalize_text(t) for t in texts], category) is applies


@pytest.mark.parametrize(("want", "typed", "match"), [
    ("boots", "boots", True), ("boot", "bot", False), ("boots", "bots", False),  # under 5 letters: exact
    ("jacket", "jakcet", True), ("jacket", "jackte", True), ("jacket", "jaket", True), ("jacket", "jackett", True),
    ("jacket", "jkaect", False), ("jacket", "packet", False),
    ("sweatshirt", "swetshirtt", True), ("sweatshirt", "swetshrit", True), ("sweatshirt", "swtshrt", False),
    ("iphone15", "iphone16", False), ("model", "mode1", False),  # never in a word with a digit
    ("背包背包背包", "背包背包背", False),  # Latin words only
])
def test_fuzzy_words_allow_the_typo_rewriters_edits(want, typed, match):
    assert word_matches(want, typed) is match


def test_osa_distance_is_bounded():
    assert osa_distance("abcdef", "abdcef", 2) == 1 and osa_distance("ca", "abc", 3) == 3  # OSA, not Damerau
    assert osa_distance("aaaaaaaa", "bbbbbbbb", 2) == 3 and osa_distance("a", "abcdef", 1) == 2


def test_segments_limit_a_rule_to_their_shoppers():
    rule = MerchRule(query="backpack", segments=["vip", "b2b"], pin=["p"])
    assert not rule.applies(["backpack"], None) and rule.applies(["backpack"], None, ["b2b"])
    for bad in (["VIP"], ["a" * 51], [""], [f"s{i}" for i in range(11)], ["v i p"]):
        with pytest.raises(ValidationError, match="segment"):
            MerchRule(query="q", hide=["p"], segments=bad)


def test_the_index_leaves_out_only_rules_that_cannot_apply():
    rules = {"exact": MerchRule(query="Red Backpack", pin=["p"]),
             "contains": MerchRule(query="backpack", match="contains", pin=["p"]),
             "cjk": MerchRule(query="背包", match="contains", pin=["p"]),
             "fuzzy": MerchRule(query="red backpack", match="fuzzy", pin=["p"]),
             "page": MerchRule(category="Bags", pin=["p"]),
             "site": MerchRule(hide=["p"])}
    index = RuleIndex(rules)
    searches = [(["red backpack"], None), (["rex bakpack"], None), (["big red backpack"], None),
                (["red bakcpack"], None), (["红色背包"], None), ([], "bags"), ([], "shoes"), (["mug"], None)]
    for texts, category in searches:
        applying = {i for i, r in rules.items() if r.applies(texts, category)}
        found = index.candidates(texts, category)
        assert applying <= found, (texts, category)
    assert index.candidates(["mug"], None) == {"cjk", "site"}


def test_the_time_window():
    rule = MerchRule(query="q", hide=["p"], active_from=100, active_until=200)
    assert [rule.active(t) for t in (99, 100, 199.9, 200)] == [False, True, True, False]
    with pytest.raises(ValidationError, match="before active_until"):
        MerchRule(query="q", hide=["p"], active_from=200, active_until=200)


@pytest.fixture
def engine(fake_engine, tmp_path):
    settings = fake_engine.settings.model_copy(update={"rules_db": tmp_path / "rules.sqlite"})
    return ShopRank(fake_engine.artifacts, settings, fake_engine.text_encoder, fake_engine.image_encoder)


def rule_stage(engine: ShopRank) -> Merchandising:
    return next(r for r in engine.pipeline.rules.rules if isinstance(r, Merchandising))


def top(engine: ShopRank, text: str | None = "backpack", **kw) -> list[str]:
    return [h.product.id for h in engine.search(Query(text=text, k=6, **kw)).hits]


def test_pins_of_several_rules_take_the_next_free_slots_in_id_order(engine):
    store: SQLiteRuleStore = rule_stage(engine).store  # type: ignore[assignment]
    store.put_many({"b": MerchRule(query="backpack", pin=["demo-coffee-mug-red", "demo-hoodie-green"]),
                    "a": MerchRule(query="backpack", match="contains", pin=["demo-coffee-mug-blue"]),
                    "c": MerchRule(query="backpack", hide=["demo-hoodie-green"])})
    hits = engine.search(Query(text="backpack", k=6)).hits
    assert [h.product.id for h in hits[:2]] == ["demo-coffee-mug-blue", "demo-coffee-mug-red"]
    assert [h.rules for h in hits[:2]] == [["a"], ["b"]] and "demo-hoodie-green" not in top(engine)  # hide wins
    # A pin the shopper's filters refuse is left out.
    assert "demo-coffee-mug-red" not in top(engine, filters=Filters(price_min=50))


def test_a_preview_applies_a_rule_for_its_block_only(engine):
    plain = top(engine)
    with previewing({"p": MerchRule(query="backpack", pin=["demo-coffee-mug-red"], active_from=4e9)}):
        assert top(engine)[0] == "demo-coffee-mug-red"  # whatever its time window
    assert top(engine) == plain


def test_without_rules_the_stage_changes_nothing(engine, fake_engine):
    plain = fake_engine.settings.model_copy(update={"search_rules": []})
    off = ShopRank(fake_engine.artifacts, plain, fake_engine.text_encoder, fake_engine.image_encoder)
    for text in ("backpack", "red mug", None):
        q = Query(text=text, k=10, explain=True, filters=Filters(category="Bags") if text is None else Filters())
        a, b = engine.search(q).hits, off.search(q).hits
        assert [(h.product.id, h.score, h.contributions, h.rules) for h in a] == [
            (h.product.id, h.score, h.contributions, h.rules) for h in b]
    assert not (engine.settings.rules_path.exists())  # searching creates no rule file


def test_a_category_rule_leaves_a_photo_search_in_that_category_alone(engine):
    store = rule_stage(engine).store
    photo = Path(engine.artifacts.catalog.get("demo-backpack-red").images[0]).read_bytes()
    q = Query(image=photo, k=5, filters=Filters(category="Bags/Backpacks"))
    before = [h.product.id for h in engine.search(q).hits]
    store.put("page", MerchRule(category="Bags/Backpacks", pin=["demo-backpack-white"], hide=[before[0]]))
    assert [h.product.id for h in engine.search(q).hits] == before
    assert top(engine, None, filters=Filters(category="Bags/Backpacks"))[0] == "demo-backpack-white"
