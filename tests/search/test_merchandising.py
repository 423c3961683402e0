"""The merchandising rule: when a rule applies, and how several rules share the page."""
from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shoprank.engine import ShopRank
from shoprank.search.merch_rule import MerchRule, normalize_text
from shoprank.search.merchandising import Merchandising, previewing
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
])
def test_when_a_rule_applies(rule, texts, category, applies):
    assert rule.applies([normalize_text(t) for t in texts], category) is applies


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
