"""Synonym pairs mined from the logs: shared engaged products and reformulations, worked by hand."""
from __future__ import annotations

from shoprank.analytics.impressions import Impression
from shoprank.analytics.synonym_suggestions import SynonymSuggestion, suggest_synonyms, term_pair
from shoprank.query.synonym_store import Synonyms, SynonymSet
from shoprank.types import Event


def test_term_pairs():
    assert term_pair("red rucksack", "red backpack") == ("backpack", "rucksack")
    assert term_pair("rucksack", "backpack") == ("backpack", "rucksack")
    assert term_pair("backpack", "red backpack") is None  # a refinement
    assert term_pair("big red rucksack", "small red backpack") is None  # two words differ
    assert term_pair("a b c d", "e f g h") is None  # long and unrelated
    assert term_pair("tee", "tee") is None


def imp(sid: str, q: str, session: str, ts: float) -> Impression:
    return Impression(search_id=sid, ts=ts, kind="text", products=("p1", "p2"), query=q, session_id=session)


def click(sid: str | None, pid: str, session: str, q: str | None = None) -> Event:
    return Event(session_id=session, product_id=pid, type="click", search_id=sid, query=q)


def test_shared_products_and_reformulations():
    imps = [imp("s1", "rucksack", "a", 0), imp("s2", "backpack", "a", 30),  # reformulated: s1 unclicked
            imp("s3", "Rucksack", "b", 0), imp("s4", "backpack", "c", 0),
            imp("s5", "tee", "d", 0), imp("s6", "t-shirt", "d", 500)]      # too far apart
    events = [click("s2", "p1", "a"), click("s3", "p1", "b"), click("s4", "p1", "c"),
              click(None, "p2", "e", q="red rucksack"), click(None, "p2", "e", q="red backpack"),
              click("s6", "p3", "d"), Event(session_id="x", product_id="p1", type="view", query="knapsack")]
    got = suggest_synonyms(imps, events, min_support=1)
    # p1 (rucksack, backpack) and p2 (red rucksack, red backpack) are two shared products; one reformulation.
    assert got == [SynonymSuggestion(("backpack", "rucksack"), 2, 1)]
    assert suggest_synonyms(imps, events, min_support=4) == []
    known = Synonyms(1, {"bags": SynonymSet(terms=["Backpack", "rucksack", "knapsack"])})
    assert suggest_synonyms(imps, events, known, min_support=1) == []
