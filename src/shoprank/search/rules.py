"""Rules applied to a ranking after the rankers: pin, hide, boost or bury products.

A rule kind is one :class:`Rule` subclass registered in :data:`RULES`; the rules stage applies
the configured ones in order. A rule edits the search's state: its ``scores`` (boost, bury),
``pins`` (a catalog position to a slot on the page, even one no retriever found) and
``hidden`` (positions never shown). ``merchandising`` (:mod:`shoprank.search.merchandising`)
applies the rules people keep in the rule store.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.config import Settings
    from shoprank.search.state import SearchState


class Rule(ABC):
    name: str = "rule"

    @classmethod
    def from_settings(cls, settings: Settings) -> Rule:
        """The rule as ``settings`` configure it (one that reads a store opens it here)."""
        return cls()

    @abstractmethod
    def apply(self, state: SearchState) -> None:
        """Edit ``state`` (its plan, scores, pins, hidden) for this search."""


RULES: Registry[Rule] = Registry("search rule")
RULES.register("merchandising", "shoprank.search.merchandising:Merchandising")
