"""Synonym pairs suggested by the logs, for a person to approve (never applied by themselves).

Two kinds of evidence, counted per pair of terms:

- **shared products**: two queries whose clicks, carts or purchases land on the same product
  ("rucksack" and "backpack" both lead to the Trail Backpack); each shared product counts once;
- **reformulations**: within a session, a query with no engagement followed within two minutes
  by another that was engaged with ("rucksack" → nothing clicked → "backpack" → a click).

A pair of queries gives a pair of terms when they differ in exactly one word at the same place
("red rucksack" / "red backpack" → rucksack, backpack), or when both are short (at most three
words) and share none; anything else (a refinement, "backpack" → "red backpack") gives none.
Pairs already in one synonym set are left out.
"""
from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from shoprank.analytics.impressions import Impression
from shoprank.query.synonym_store import Synonyms, normalize_term
from shoprank.types import Event

ENGAGED = frozenset({"click", "cart", "purchase"})
REFORMULATION_S = 120.0
MAX_QUERIES_PER_PRODUCT = 20  # a product engaged from many queries pairs only its most frequent ones
SHORT = 3


@dataclass(frozen=True)
class SynonymSuggestion:
    terms: tuple[str, str]
    shared_products: int
    reformulations: int

    @property
    def support(self) -> int:
        return self.shared_products + self.reformulations


def term_pair(a: str, b: str) -> tuple[str, str] | None:
    """The terms two different queries suggest as synonyms (see the module), in sorted order."""
    wa, wb = a.split(), b.split()
    if a == b or not wa or not wb:
        return None
    if len(wa) == len(wb):
        diff = [(x, y) for x, y in zip(wa, wb) if x != y]
        if len(diff) == 1:
            x, y = diff[0]
            return (x, y) if x < y else (y, x)
    if len(wa) <= SHORT and len(wb) <= SHORT and not set(wa) & set(wb):
        return (a, b) if a < b else (b, a)
    return None


def _known(synonyms: Synonyms) -> set[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    for s in synonyms.sets.values():
        terms = sorted({normalize_term(t) for t in [*s.terms, *([s.input] if s.input else [])]})
        pairs.update(itertools.combinations(terms, 2))
    return pairs


def suggest_synonyms(impressions: Iterable[Impression], events: Iterable[Event], synonyms: Synonyms | None = None,
                     min_support: int = 3) -> list[SynonymSuggestion]:
    """Pairs with at least ``min_support`` pieces of evidence, most supported first."""
    imps = list(impressions)
    query_of = {i.search_id: normalize_term(i.query) for i in imps if i.query}
    engaged_searches: set[str] = set()
    by_product: dict[str, Counter[str]] = defaultdict(Counter)
    for e in events:
        if e.type not in ENGAGED:
            continue
        if e.search_id is not None:
            engaged_searches.add(e.search_id)
        q = normalize_term(e.query) if e.query else query_of.get(e.search_id or "")
        if q:
            by_product[e.product_id][q] += 1
    shared: Counter[tuple[str, str]] = Counter()
    for queries in by_product.values():
        top = sorted(q for q, _ in queries.most_common(MAX_QUERIES_PER_PRODUCT))
        shared.update({p for a, b in itertools.combinations(top, 2) if (p := term_pair(a, b))})
    reformulated: Counter[tuple[str, str]] = Counter()
    sessions = sorted((i for i in imps if i.session_id and i.query), key=lambda i: (i.session_id, i.ts))
    for a, b in itertools.pairwise(sessions):
        if (a.session_id == b.session_id and b.ts - a.ts <= REFORMULATION_S and a.search_id not in engaged_searches
                and b.search_id in engaged_searches):
            pair = term_pair(query_of[a.search_id], query_of[b.search_id])
            if pair:
                reformulated[pair] += 1
    known = _known(synonyms) if synonyms is not None else set()
    out = [SynonymSuggestion(p, shared[p], reformulated[p]) for p in {*shared, *reformulated} if p not in known]
    return sorted((s for s in out if s.support >= min_support), key=lambda s: (-s.support, s.terms))
