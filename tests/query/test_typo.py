"""The typo rewriter: misspelled words become the catalog's own, and nothing else changes."""
from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shoprank.catalog import Catalog
from shoprank.engine import ShopRank
from shoprank.query import REWRITERS
from shoprank.query.typo import TypoRewriter, Vocabulary, allowed_edits, typo_rewrites
from shoprank.registry import MissingExtraError
from shoprank.service import create_app
from shoprank.types import Event, Product, Query

pytest.importorskip("symspellpy", reason="pip install 'shoprank[query]'")


def _vocab(*titles: str, **counts: int) -> Vocabulary:
    """A vocabulary of these titles, plus each ``word=n`` in n products."""
    products = [Product(id=f"p{i}", title=t) for i, t in enumerate(titles)]
    products += [Product(id=f"{w}{i}", title=w) for w, n in counts.items() for i in range(n)]
    v = Vocabulary()
    v.extend(products)
    return v


def _fixed(text: str, v: Vocabulary) -> str | None:
    """The text a replacing correction searches, None if there is none."""
    return next((r.text for r in typo_rewrites(text, v) if r.replaces), None)


@pytest.fixture(scope="module")
def typo_engine(fake_engine):
    settings = fake_engine.settings.model_copy(update={"query_rewriters": ["typo"]})
    return ShopRank(fake_engine.artifacts, settings, fake_engine.text_encoder, fake_engine.image_encoder)


@pytest.mark.parametrize(("typed", "meant"), [("backpak", "backpack"), ("yoga pnats", "yoga pants"),
                                              ("runing shoes", "running shoes"), ("Hodie", "hoodie"),
                                              ("insualted bottle", "insulated bottle")])
def test_misspelled_demo_words_are_corrected_and_found(typo_engine, typed, meant):
    res = typo_engine.search(Query(text=typed, k=3))
    assert res.query_text == meant and res.did_you_mean == meant and res.auto_corrected
    right = typo_engine.search(Query(text=meant, k=3))  # found as if typed right
    assert res.hits and [h.product.id for h in res.hits] == [h.product.id for h in right.hits]
    [r] = res.rewrites
    assert (r.origin, r.replaces, r.text) == ("typo", True, meant) and r.edits >= 1


def test_without_typo_tolerance_the_text_is_searched_as_typed(typo_engine):
    res = typo_engine.search(Query(text="backpak", k=3, typo_tolerance=False))
    assert res.query_text == "backpak" and res.rewrites == [] and res.did_you_mean is None


def test_correctly_spelled_catalog_words_are_never_changed(typo_engine, demo_catalog):
    vocab = typo_engine.understanding.rewriters[0].vocabulary(typo_engine.artifacts)
    for p in demo_catalog.products:
        assert typo_rewrites(p.title, vocab) == [], p.title
        assert typo_rewrites(p.category.replace("/", " "), vocab) == []
    # Words the query parser reads are known even where no title has them.
    assert typo_rewrites("womens shorts under 50 dollars", vocab) == []


@pytest.mark.parametrize("query", ["W11-2285 filter", "ABX2001 fillter", "size 10.5 shoes", "32x30 jeans",
                                   "HD1080p camera", "2x4 lumber", "sku 88231-b"])
def test_numbers_sizes_and_model_numbers_are_never_corrected(query):
    v = _vocab("W11-2285 water filter", "ABX2000 filters", "HD1080 cameras", "2x6 lumbers", "sku 88231-a")
    rewrites = typo_rewrites(query, v)
    for r in rewrites:  # only the word without digits may change
        kept = [w for w in query.split() if any(ch.isdigit() for ch in w)]
        assert all(w in r.text for w in kept)
    assert _fixed("ABX2001", v) is None and _fixed("HD1080p", v) is None


def test_thresholds_by_length():
    assert [allowed_edits("x" * n) for n in (1, 4, 5, 8, 9, 15)] == [0, 0, 1, 1, 2, 2]
    v = _vocab("pants shirt jacket sweater headphones shoes")
    assert _fixed("pnts", v) is None             # 4 letters: no typo allowed
    assert _fixed("pantz", v) == "pants"         # 5: one
    assert _fixed("jackte", v) == "jacket"       # a transposition is one edit
    assert _fixed("swaeter", v) == "sweater"
    assert _fixed("hedphnes", v) is None         # 8 letters, 2 edits: one allowed
    assert _fixed("hedphonse", v) == "headphones"  # 9 letters: two
    assert _fixed("bants", v) is None            # the first letter is kept


def test_an_unsure_correction_is_searched_beside_the_query():
    sure = _vocab(shirts=10, shorts=2)
    assert _fixed("shxrts", sure) == "shirts"    # five times as common: replaces
    unsure = typo_rewrites("shxrts", _vocab(shirts=2, shorts=2))
    assert [(r.text, r.replaces) for r in unsure] == [("shirts", False), ("shorts", False)]
    assert unsure[0].weight > unsure[1].weight > 0


def test_the_vocabulary_follows_a_growing_catalog():
    catalog = Catalog([Product(id="a", title="leather wallet")])
    artifacts = SimpleNamespace(catalog=catalog)
    rewriter = TypoRewriter()
    plan = SimpleNamespace(text="zelmro", typo_tolerance=True)
    assert rewriter.rewrite(plan, artifacts) == []  # type: ignore[arg-type]
    catalog.products.append(Product(id="b", title="zelmoro umbrella"))
    assert [r.text for r in rewriter.rewrite(plan, artifacts)] == ["zelmoro"]  # type: ignore[arg-type]


def test_the_plan_knows_the_edits_and_the_feature_reads_them(typo_engine):
    plan = typo_engine.understand(Query(text="zorblat runing"))  # no word near "zorblat" anywhere: only "running"
    assert plan.typo_edits == 1
    assert typo_engine.understand(Query(text="running")).typo_edits == 0
    res = typo_engine.search(Query(text="runing shoes", k=3, explain=True))
    assert res.hits and all(h.features["typo_edits"] == 1 for h in res.hits)
    assert res.hits[0].contributions.get("typo_edits", 0.0) == 0.0  # the default ranker does not read it


def test_a_missing_symspellpy_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "symspellpy", None)
    with pytest.raises(MissingExtraError, match=r"shoprank\[query\]"):
        REWRITERS.create("typo")


def test_did_you_mean_and_the_rewrite_over_http(typo_engine):
    with TestClient(create_app(typo_engine)) as client:
        body = client.post("/search", json={"q": "backpak", "k": 3, "explain": True}).json()
        assert body["did_you_mean"] == "backpack" and body["auto_corrected"] is True
        assert body["query"] == "backpak" and body["searched"] == "backpack"
        assert [(r["origin"], r["text"], r["edits"]) for r in body["rewrites"]] == [("typo", "backpack", 1)]
        assert "backpack" in body["results"][0]["title"].lower()
        typed = client.post("/search", json={"q": "backpak", "k": 3, "typo_tolerance": False}).json()
        assert typed["did_you_mean"] is None and typed["auto_corrected"] is False and typed["rewrites"] == []
        form = client.post("/search", data={"q": "backpak", "typo_tolerance": "false"}).json()
        assert form["searched"] == "backpak"
        plain = client.post("/search", json={"q": "backpack", "k": 3}).json()
        assert plain["did_you_mean"] is None and plain["rewrites"] == []
    assert np.isfinite([r["score"] for r in body["results"]]).all()


def test_typo_tolerance_is_on_by_default_where_its_extra_is_installed(monkeypatch, tmp_path):
    from shoprank.config import Settings

    assert Settings(home=tmp_path).query_rewriters == ["pinyin", "typo", "synonym"]
    monkeypatch.setitem(sys.modules, "symspellpy", None)  # without the extra: no typo tolerance
    assert "typo" not in Settings(home=tmp_path).query_rewriters


def test_the_runner_up_scores_with_the_common_words_idf():
    unsure = typo_rewrites("shxrts", _vocab(shirts=2, shorts=2))
    assert unsure[0].idf_from == () and unsure[1].idf_from == (("shorts", "shirts"),)


def test_words_of_past_queries_are_known_and_corrected_to():
    v = _vocab(backpack=3)
    assert typo_rewrites("zelmro backpack", v) == []  # no catalog word is near
    v.add_queries(["Zelmoro backpack", "zelmoro backpack"])  # shoppers' word for a brand the catalog lacks
    assert _fixed("zelmro backpack", v) == "zelmoro backpack"
    assert v.correct("zelmoro") is None and v.counts["zelmoro"] == 1  # one query, however cased


def test_the_engine_takes_in_queries_that_led_to_events(fake_engine, monkeypatch, tmp_path):
    monkeypatch.setattr("shoprank.query.typo.QUERIES_RECHECK_S", 0.0)
    settings = fake_engine.settings.model_copy(update={"query_rewriters": ["typo"], "suggest_min_users": 1,
                                                       "events_db": tmp_path / "ev.sqlite"})
    engine = ShopRank(fake_engine.artifacts, settings, fake_engine.text_encoder, fake_engine.image_encoder)
    assert engine.search(Query(text="zelmro", k=3)).did_you_mean is None
    pid = engine.artifacts.catalog.products[0].id
    engine.personalizer.record([Event(user_id="u1", product_id=pid, type="click", query="zelmoro")])
    res = engine.search(Query(text="zelmro", k=3))
    assert res.did_you_mean == "zelmoro" and res.auto_corrected


def test_two_catalog_words_run_together_are_split():
    v = _vocab(nail=3, gun=4, cordless=3, cup=5, boards=5)
    assert _fixed("cordless nailgun", v) == "cordless nail gun"
    [r] = typo_rewrites("nailgun", v)
    assert r.edits == 1 and "nailgun → nail gun" in r.reason
    assert typo_rewrites("cupboards", v) == []  # an English word is never split (nor corrected)
    assert typo_rewrites("nailbar", _vocab(nail=3, bar=2)) == []  # "bar" in too few products to split at


def test_common_english_words_correct_what_the_catalog_has_no_word_near():
    v = _vocab(backpack=3)
    assert _fixed("hydraulic fulid", v) == "hydraulic fluid"  # the dense retriever reads it better
    assert _fixed("backpak fulid", v) == "backpack fluid"  # a catalog word first, where there is one


def test_description_words_are_corrections_after_title_words():
    products = [Product(id=f"d{i}", title="tool", description="a sturdy widget, a gizmox") for i in range(3)]
    v = Vocabulary()
    v.extend([*products, Product(id="g", title="tool", description="a zorblax")])
    assert _fixed("widgte", v) == "widget"  # in three descriptions: a candidate
    assert _fixed("zorblx", v) is None  # in one: not a candidate (one-off words are often typos)
