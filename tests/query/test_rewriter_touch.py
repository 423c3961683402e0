"""A query rewriter is one class and one registration: it changes what BM25 and the dense
retriever see, and the search says so."""
import numpy as np
import pytest

from shoprank.engine import ShopRank
from shoprank.index.artifacts import IndexArtifacts
from shoprank.query import REWRITERS, QueryPlan, QueryRewriter, Rewrite
from shoprank.types import Query


class RucksackMeansBackpack(QueryRewriter):
    name = "test-rucksack"

    def rewrite(self, plan: QueryPlan, artifacts: IndexArtifacts) -> list[Rewrite]:
        assert plan.text is not None
        if "rucksack" not in plan.text:
            return []
        return [Rewrite(plan.text.replace("rucksack", "backpack"), "synonym", 0.8, reason="rucksack → backpack")]


REWRITERS.register("test-rucksack", RucksackMeansBackpack)


@pytest.fixture(scope="module")
def engines(fake_engine):
    settings = fake_engine.settings.model_copy(update={"query_rewriters": ["test-rucksack"]})
    rewriting = ShopRank(fake_engine.artifacts, settings, fake_engine.text_encoder, fake_engine.image_encoder)
    return fake_engine, rewriting


def test_the_rewrite_reaches_bm25_and_the_dense_vector(engines):
    plain, rewriting = engines
    q = Query(text="rucksack", k=5)
    before, after = plain.understand(q), rewriting.understand(q)
    assert before.rewrites == [] and [r.origin for r in after.rewrites] == ["synonym"]
    assert after.lexical_queries() == [("rucksack", 1.0, {}), ("backpack", 0.8, {})]
    # The dense text vector moves towards "backpack": the rewrite is read beside the query.
    backpack = plain.understand(Query(text="backpack")).vectors["text"]
    assert float(after.vectors["text"] @ backpack) > float(before.vectors["text"] @ backpack) + 0.1
    assert abs(float(np.linalg.norm(after.vectors["text"])) - 1.0) < 1e-5
    runs_before = plain.pipeline.retriever.runs(before, 20)
    runs_after = rewriting.pipeline.retriever.runs(after, 20)
    assert "bm25" not in runs_before  # no product says "rucksack"
    names = [plain.artifacts.catalog.products[pos].title.lower() for pos, _ in runs_after["bm25"]]
    assert names and all("backpack" in n for n in names)


def test_the_search_reports_the_rewrite(engines):
    _, rewriting = engines
    res = rewriting.search(Query(text="rucksack", k=3, explain=True))
    assert [(r.text, r.origin, r.reason) for r in res.rewrites] == [("backpack", "synonym", "rucksack → backpack")]
    assert res.query_text == "rucksack"  # an alternative, not a replacement
    assert res.hits and "backpack" in res.hits[0].product.title.lower()
    assert "bm25" in res.retrievers


def test_a_replacing_rewrite_is_what_every_stage_reads(fake_engine):
    class Correct(QueryRewriter):
        def rewrite(self, plan: QueryPlan, artifacts: IndexArtifacts) -> list[Rewrite]:
            return [Rewrite("backpack", "typo", replaces=True)] if plan.text == "backpak" else []

    engine = ShopRank(fake_engine.artifacts, fake_engine.settings, fake_engine.text_encoder, fake_engine.image_encoder)
    engine.understanding.rewriters = [Correct()]
    plan = engine.understand(Query(text="backpak"))
    assert plan.text == "backpack" and plan.original == "backpak" and plan.terms == ["backpack"]
    assert plan.parsed is not None and "bag" in plan.parsed.types
    res = engine.search(Query(text="backpak", k=3))
    assert res.query_text == "backpack" and res.hits and "backpack" in res.hits[0].product.title.lower()
