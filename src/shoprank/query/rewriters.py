"""Query rewriters, by name: each reads the plan so far and proposes :class:`Rewrite` s.

A typo corrector, a synonym set, a merchandising rule or an LLM rewrite is one file with a
:class:`QueryRewriter` subclass and one :data:`REWRITERS` registration; ``query_rewriters``
in the settings lists the ones that run, in order (by default pinyin and typo, where the query
extra is installed, then synonym). Each sees the rewrites of those before it. A rewriter must be
cheap (it runs on every search) and safe for threads.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from shoprank.registry import Registry

if TYPE_CHECKING:
    from shoprank.index.artifacts import IndexArtifacts
    from shoprank.query.plan import QueryPlan, Rewrite
    from shoprank.query.synonym_store import SynonymStore


class QueryLog(Protocol):
    """Past queries that led to clicks, carts or purchases (the personalizer keeps them)."""

    @property
    def queries_version(self) -> int: ...

    def past_queries(self) -> Mapping[str, int]: ...


def _no_log() -> QueryLog | None:
    return None


@dataclass(frozen=True)
class IndexStores:
    """What the engine opened for the index it serves, beyond its artifacts (kept across reloads)."""

    synonyms: SynonymStore
    query_log: Callable[[], QueryLog | None] = _no_log  # None while no event store is open


class QueryRewriter(ABC):
    """Proposes other readings of a query's text."""

    name: str = "rewriter"

    def bind(self, stores: IndexStores) -> None:  # noqa: B027 - optional hook: most rewriters read no store
        """Called once by the engine with its index's stores; a rewriter that reads one keeps it."""

    @abstractmethod
    def rewrite(self, plan: QueryPlan, artifacts: IndexArtifacts) -> list[Rewrite]:
        """Rewrites of ``plan.text`` (never empty text); ``artifacts`` is the index served (its
        vocabulary, catalog). Return ``[]`` when there is nothing to add."""


REWRITERS: Registry[QueryRewriter] = Registry("query rewriter")
REWRITERS.register("synonym", "shoprank.query.synonyms:SynonymRewriter")
# Imported on first use (pypinyin and symspellpy come with the "query" extra).
REWRITERS.register("pinyin", "shoprank.query.pinyin:PinyinRewriter", extra="query")
REWRITERS.register("typo", "shoprank.query.typo:TypoRewriter", extra="query")
