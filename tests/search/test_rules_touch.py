"""A search rule is one class and one registration: a pin places a product at its slot,
even one no retriever found, and the page says it was pinned."""
from shoprank.engine import ShopRank
from shoprank.search import RULES, Rule, SearchState
from shoprank.types import Query

PINNED = {"slot": 1, "id": ""}


class PinForBackpacks(Rule):
    name = "test-pin"

    def apply(self, state: SearchState) -> None:
        if state.plan.text and "backpack" in state.plan.text:
            catalog = state.batch.artifacts.catalog if state.batch.artifacts else None
            assert catalog is not None
            state.pins[catalog.position(PINNED["id"])] = PINNED["slot"]


RULES.register("test-pin", PinForBackpacks)


def test_a_rule_pins_a_product_no_retriever_found(fake_engine):
    small = fake_engine.settings.model_copy(update={"retrieve_k": 5, "rerank_k": 10})  # not every product a candidate
    plain_engine = ShopRank(fake_engine.artifacts, small, fake_engine.text_encoder, fake_engine.image_encoder)
    plain = plain_engine.search(Query(text="backpack", k=5, collapse_variants=False))
    shown = {h.product.id for h in plain.hits}
    candidates = set(plain_engine.candidates(Query(text="backpack")).batch.product_ids)
    outsider = next(p for p in fake_engine.artifacts.catalog.products if p.id not in candidates)
    PINNED["id"] = outsider.id
    engine = ShopRank(fake_engine.artifacts, small.model_copy(update={"search_rules": ["test-pin"]}),
                      fake_engine.text_encoder, fake_engine.image_encoder)
    res = engine.search(Query(text="backpack", k=5, collapse_variants=False, explain=True))
    ids = [h.product.id for h in res.hits]
    assert len(ids) == 5 and ids[1] == outsider.id and res.hits[1].pinned
    assert not any(h.pinned for i, h in enumerate(res.hits) if i != 1)
    # The others keep their order around it; the last one shown before gives way.
    assert [i for i in ids if i != outsider.id] == [h.product.id for h in plain.hits][:4]
    assert outsider.id not in shown
    # Searches the rule does not match are untouched.
    other = Query(text="hoodie", k=5, collapse_variants=False)
    assert [h.product.id for h in engine.search(other).hits] == [h.product.id for h in plain_engine.search(other).hits]
