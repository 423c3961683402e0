"""The search orchestrator: budgets, filters, sorting, collapsing, explanations."""
from __future__ import annotations

import pytest

from fakes import tiny_engine
from shoprank.engine import ShopRank
from shoprank.search import Budgets
from shoprank.types import Filters, Query


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_engine(tmp_path_factory.mktemp("tiny"))


def ids(res):
    return [h.product.id for h in res.hits]


def test_variants_collapse_to_the_best_one_unless_asked(tiny):
    res = tiny.search(Query(text="red fleece hoodie", k=5))
    assert ids(res)[0] == "hoodie-red" and sum(i.startswith("hoodie") for i in ids(res)) == 1
    all_ = tiny.search(Query(text="red fleece hoodie", k=5, collapse_variants=False))
    assert ids(all_)[:3] == ["hoodie-red", "hoodie-blue", "hoodie-green"] or ids(all_)[0] == "hoodie-red"
    assert sum(i.startswith("hoodie") for i in ids(all_)) == 3


def test_filters_sort_and_facets(tiny):
    res = tiny.search(Query(text="mug", k=5, filters=Filters(colors=["blue"])))
    assert ids(res)[0] == "mug-blue" and set(ids(res)) <= {"mug-blue", "hoodie-blue"}
    cheap = tiny.search(Query(text="coffee mug", k=2, sort="price_asc"))
    assert ids(cheap) == ["mug-blue", "mug-red"]  # only the keyword matches are sorted
    facets = tiny.search(Query(text="hoodie", k=5)).facets
    assert {f.value: f.count for f in facets["category"]} == {"Men/Tops/Hoodies": 1}  # one model
    browse = tiny.search(Query(k=20, filters=Filters(category="Gear")))
    assert sorted(ids(browse)) == ["backpack-green", "watch"]


def test_budgets_bound_the_candidates(tiny):
    s = tiny.settings.model_copy(update={"rerank_k": 3, "retrieve_k": 2})
    small = ShopRank(tiny.artifacts, s, tiny.text_encoder)
    assert small.pipeline.budgets == Budgets(2, 3)
    res = small.search(Query(text="ceramic coffee mug", k=10, collapse_variants=False))
    assert res.candidates <= 3 and len(res.hits) <= 3


def test_explanations_add_up_and_timings_are_reported(tiny):
    res = tiny.search(Query(text="steel watch", k=3, explain=True))
    assert ids(res)[0] == "watch"
    for h in res.hits:
        assert sum(h.contributions.values()) == pytest.approx(h.score, abs=1e-4)
        assert set(h.features) >= {"bm25_title", "cos_text", "cos_review"}
    assert res.hits[0].retrievers["bm25"] == 1 and "review" in res.hits[0].retrievers
    assert {"encode", "candidates", "rank", "collapse", "pipeline"} <= set(res.timings_ms)
    assert res.timings_ms["pipeline"] >= res.timings_ms["rank"]


def test_photo_query_finds_the_same_colour_and_names_it(tiny):
    photo = open(tiny.artifacts.catalog.get("mug-blue").images[0], "rb").read()
    res = tiny.search(Query(image=photo, k=3))
    assert res.photo_labels == [("blue", 1.0)]
    assert set(ids(res)[:2]) == {"mug-blue", "hoodie-blue"}
    assert {"image", "photo_text"} <= set(res.retrievers)
