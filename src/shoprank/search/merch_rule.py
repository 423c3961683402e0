"""A merchandising rule: when it applies (a query, a category page, or every search; shopper
segments; a time window) and what it does (pin, hide, boost, bury).

Written by a person (``PUT /admin/rules/{id}``, ``shoprank rules import``), kept in a
:mod:`~shoprank.search.rule_store`, applied by :class:`~shoprank.search.merchandising.Merchandising`.
Only the structure is checked here; whether the products it names exist is the caller's check
against the served catalog (:func:`unknown_products`).
"""
from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Collection
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shoprank.catalog.vocabulary import known_colors
from shoprank.query.typo import allowed_edits
from shoprank.types import MAX_SEGMENTS, Filters, Segment, check_segments

RuleMatch = Literal["exact", "contains", "fuzzy"]
RuleScope = Literal["query", "category", "site"]
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[a-zà-ÿ]+")  # the words the typo rewriter corrects: no digits, no other script


def normalize_text(text: str) -> str:
    """Case, width and spacing folded: what a rule's query is compared by."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def normalize_category(category: str) -> str:
    return category.strip().strip("/").casefold()


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def words(text: str) -> tuple[str, ...]:
    """A normalized text's words, as ``fuzzy`` compares them."""
    return tuple(_WORD.findall(text))


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a transposition is one edit), or ``limit + 1`` as soon
    as it must exceed ``limit``: the bound keeps a comparison to a few row passes."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d = min(d, prev2[j - 2] + 1)
            cur[j] = d
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def word_matches(want: str, typed: str) -> bool:
    """``typed`` is ``want`` up to the typo rewriter's typos: as many edits as the shorter word
    allows (:func:`~shoprank.query.typo.allowed_edits`), the first letter kept, none in a word with
    a digit or in another script than Latin."""
    if want == typed:
        return True
    if want[:1] != typed[:1] or not (_LATIN.fullmatch(want) and _LATIN.fullmatch(typed)):
        return False
    limit = min(allowed_edits(want), allowed_edits(typed))
    return limit > 0 and osa_distance(want, typed, limit) <= limit


def fuzzy_matches(want: tuple[str, ...], typed: tuple[str, ...]) -> bool:
    """The same words in the same order, each up to its typos."""
    return len(want) == len(typed) and all(word_matches(w, t) for w, t in zip(want, typed, strict=True))


class RuleFilter(Filters):
    """Which products a boost or bury applies to: the search filters' fields, none unknown."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("colors")
    @classmethod
    def _known_colors(cls, v: list[str]) -> list[str]:
        return known_colors(v)

    @model_validator(mode="after")
    def _something(self) -> RuleFilter:
        if self.empty:
            raise ValueError("a filter needs at least one condition (category, price, colors, rating, in_stock)")
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min must not exceed price_max")
        return self


class ScoreShift(BaseModel):
    """Boost (or bury) the candidates ``filter`` accepts by ``by`` times the query's score spread."""

    model_config = ConfigDict(extra="forbid")

    filter: RuleFilter
    by: float = Field(gt=0, le=100, allow_inf_nan=False)


class MerchRule(BaseModel):
    """One rule. ``query`` (matched ``exact``-ly, where the query ``contains`` its words, or as the
    same words up to typos, ``fuzzy``) or ``category`` (browsing that category page without a
    text query) says which searches; neither: every search (site-wide). ``segments``: only
    searches that carry one of them. ``pin`` (slots in list order), ``hide``, ``boost`` and
    ``bury`` say what; ``active_from``/``active_until`` (Unix seconds) bound when it is on.

    Outside search (autocomplete, similar items) only hides apply: pins, boosts and buries order
    a result list, and there is none to order there."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(default=None, min_length=1, max_length=500)
    match: RuleMatch = "exact"
    category: str | None = Field(default=None, min_length=1, max_length=300)
    segments: list[Segment] = Field(default_factory=list, max_length=MAX_SEGMENTS)  # any of them; none: every shopper
    pin: list[str] = Field(default_factory=list, max_length=50)
    hide: list[str] = Field(default_factory=list, max_length=1000)
    boost: ScoreShift | None = None
    bury: ScoreShift | None = None
    active_from: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    active_until: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    note: str = Field(default="", max_length=1000)  # for people: why the rule exists

    @field_validator("pin", "hide")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        v = [pid.strip() for pid in v]
        if any(not pid or len(pid) > 200 for pid in v):
            raise ValueError("product ids are 1 to 200 characters")
        if len(set(v)) != len(v):
            raise ValueError("a product id is listed twice")
        return v

    @field_validator("segments")
    @classmethod
    def _segments(cls, v: list[str]) -> list[str]:
        return check_segments(v)

    @model_validator(mode="after")
    def _consistent(self) -> MerchRule:
        if self.query is not None and self.category is not None:
            raise ValueError("give either 'query' (a search) or 'category' (a category page), not both")
        if self.query is not None and not normalize_text(self.query):
            raise ValueError("query: blank")
        if self.category is not None and not normalize_category(self.category):
            raise ValueError("category: blank")
        if self.match == "fuzzy" and self.query is not None and not words(normalize_text(self.query)):
            raise ValueError("query: a fuzzy rule's query needs a word")
        if not (self.pin or self.hide or self.boost or self.bury):
            raise ValueError("a rule needs at least one of pin, hide, boost, bury")
        if both := sorted(set(self.pin) & set(self.hide)):
            raise ValueError(f"products both pinned and hidden: {both}")
        if self.active_from is not None and self.active_until is not None and self.active_from >= self.active_until:
            raise ValueError("active_from must be before active_until")
        return self

    @property
    def scope(self) -> RuleScope:
        """Which searches it names: a query's, a category page, or every search (``site``)."""
        return "query" if self.query is not None else "category" if self.category is not None else "site"

    def active(self, now: float) -> bool:
        return (self.active_from is None or self.active_from <= now) and (
            self.active_until is None or now < self.active_until)

    def for_segments(self, segments: Collection[str]) -> bool:
        """Whether a search carrying ``segments`` is one of the rule's shoppers."""
        return not self.segments or any(s in segments for s in self.segments)

    def applies(self, texts: list[str], category: str | None, segments: Collection[str] = ()) -> bool:
        """Whether the search applies: ``texts`` are its normalized query readings (as typed, as
        searched; none for a browse), ``category`` its category filter, ``segments`` its shopper's."""
        if not self.for_segments(segments):
            return False
        if self.scope == "site":
            return True
        if self.category is not None:
            return not texts and category is not None and normalize_category(category) == normalize_category(
                self.category)
        return self.matches_query(texts)

    def matches_query(self, texts: list[str]) -> bool:
        want = normalize_text(self.query or "")
        if self.match == "exact":
            return want in texts
        if self.match == "fuzzy":
            return any(fuzzy_matches(words(want), words(t)) for t in texts)
        return any(contains(want, t) for t in texts)

    def products(self) -> list[str]:
        """Every product id the rule names."""
        return [*self.pin, *self.hide]

    def categories(self) -> list[str]:
        """Every category the rule names (its page, its filters')."""
        named = [self.category, *(s.filter.category for s in (self.boost, self.bury) if s is not None)]
        return [c for c in named if c]


@functools.lru_cache(maxsize=4096)
def _word_pattern(want: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(want)}(?!\w)")


def contains(want: str, text: str) -> bool:
    """``text`` holds ``want`` as whole words (Chinese, written without spaces: anywhere)."""
    if has_cjk(want):
        return want in text
    return _word_pattern(want).search(text) is not None


def unknown_products(rule: MerchRule, known: Callable[[str], bool]) -> list[str]:
    return [pid for pid in rule.products() if not known(pid)]
