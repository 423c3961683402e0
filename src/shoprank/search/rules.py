"""Rules applied to a ranking after the rankers: pin, hide, boost or bury products.

A rule kind is one :class:`Rule` subclass registered in :data:`RULES`; the rules stage applies
the configured ones in order. A rule edits the search's state: its ``scores`` (boost, bury),
``pins`` (a catalog position to a slot on the page, even one no retriever found) and
``hidden`` (positions never shown). None ship yet (merchandising rules are query understanding's
next step); the stage runs empty.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.search.state import SearchState


class Rule(ABC):
    name: str = "rule"

    @abstractmethod
    def apply(self, state: SearchState) -> None:
        """Edit ``state`` (its plan, scores, pins, hidden) for this search."""


RULES: Registry[Rule] = Registry("search rule")
