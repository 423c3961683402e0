"""Query rewriters, by name: each reads the plan so far and proposes :class:`Rewrite` s.

A typo corrector, a synonym set, a merchandising rule or an LLM rewrite is one file with a
:class:`QueryRewriter` subclass and one :data:`REWRITERS` registration; ``query_rewriters``
in the settings lists the ones that run, in order ("typo" by default, where its extra is
installed). Each sees the rewrites of those before it. A rewriter must be cheap (it runs on
every search) and safe for threads.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.index.artifacts import IndexArtifacts
    from shoprank.query.plan import QueryPlan, Rewrite


class QueryRewriter(ABC):
    """Proposes other readings of a query's text."""

    name: str = "rewriter"

    @abstractmethod
    def rewrite(self, plan: QueryPlan, artifacts: IndexArtifacts) -> list[Rewrite]:
        """Rewrites of ``plan.text`` (never empty text); ``artifacts`` is the index served (its
        vocabulary, catalog). Return ``[]`` when there is nothing to add."""


REWRITERS: Registry[QueryRewriter] = Registry("query rewriter")
# Built in, imported on first use (symspellpy comes with the "query" extra).
REWRITERS.register("typo", "shoprank.query.typo:TypoRewriter", extra="query")
