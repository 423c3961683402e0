"""A merchandising rule: when it applies (a query, or a category page; a time window) and what
it does (pin, hide, boost, bury).

Written by a person (``PUT /admin/rules/{id}``, ``shoprank rules import``), kept in a
:mod:`~shoprank.search.rule_store`, applied by :class:`~shoprank.search.merchandising.Merchandising`.
Only the structure is checked here; whether the products it names exist is the caller's check
against the served catalog (:func:`unknown_products`).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shoprank.catalog.vocabulary import known_colors
from shoprank.types import Filters

RuleMatch = Literal["exact", "contains"]
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def normalize_text(text: str) -> str:
    """Case, width and spacing folded: what a rule's query is compared by."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def normalize_category(category: str) -> str:
    return category.strip().strip("/").casefold()


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
    """One rule. ``query`` (matched ``exact``-ly or where the query ``contains`` its words) or
    ``category`` (browsing that category page without a text query) says when; ``pin`` (slots in
    list order), ``hide``, ``boost`` and ``bury`` what; ``active_from``/``active_until`` (Unix
    seconds) bound when it is on."""

    model_config = ConfigDict(extra="forbid")

    query: str | None = Field(default=None, min_length=1, max_length=500)
    match: RuleMatch = "exact"
    category: str | None = Field(default=None, min_length=1, max_length=300)
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

    @model_validator(mode="after")
    def _consistent(self) -> MerchRule:
        if (self.query is None) == (self.category is None):
            raise ValueError("give either 'query' (a search) or 'category' (a category page), not both")
        if self.query is not None and not normalize_text(self.query):
            raise ValueError("query: blank")
        if self.category is not None and not normalize_category(self.category):
            raise ValueError("category: blank")
        if not (self.pin or self.hide or self.boost or self.bury):
            raise ValueError("a rule needs at least one of pin, hide, boost, bury")
        if both := sorted(set(self.pin) & set(self.hide)):
            raise ValueError(f"products both pinned and hidden: {both}")
        if self.active_from is not None and self.active_until is not None and self.active_from >= self.active_until:
            raise ValueError("active_from must be before active_until")
        return self

    def active(self, now: float) -> bool:
        return (self.active_from is None or self.active_from <= now) and (
            self.active_until is None or now < self.active_until)

    def applies(self, texts: list[str], category: str | None) -> bool:
        """Whether the search applies: ``texts`` are its normalized query readings (as typed, as
        searched; none for a browse), ``category`` its category filter."""
        if self.category is not None:
            return not texts and category is not None and normalize_category(category) == normalize_category(
                self.category)
        want = normalize_text(self.query or "")
        if self.match == "exact":
            return want in texts
        if _CJK.search(want):  # Chinese is written without spaces: any substring
            return any(want in t for t in texts)
        pattern = re.compile(rf"(?<!\w){re.escape(want)}(?!\w)")
        return any(pattern.search(t) for t in texts)

    def products(self) -> list[str]:
        """Every product id the rule names."""
        return [*self.pin, *self.hide]

    def categories(self) -> list[str]:
        """Every category the rule names (its page, its filters')."""
        named = [self.category, *(s.filter.category for s in (self.boost, self.bury) if s is not None)]
        return [c for c in named if c]


def unknown_products(rule: MerchRule, known: Callable[[str], bool]) -> list[str]:
    return [pid for pid in rule.products() if not known(pid)]
