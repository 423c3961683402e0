"""One served index generation and everything built over it, replaced as a whole on reload.

Each call reads the served value once, so a search that started on the old generation
finishes on it while the next one runs on the new.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from shoprank.catalog import Catalog
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.generations import Generation
from shoprank.lazy import Lazy
from shoprank.ranking.base import Ranker
from shoprank.retrieval.similar import SimilarItems
from shoprank.retrieval.suggest import Suggester
from shoprank.search import SearchPipeline


@dataclass
class Writes:
    """How far the catalog write log is applied to one served generation."""

    seq: int = 0  # the last write applied


@dataclass(frozen=True)
class Served:
    artifacts: IndexArtifacts
    pipeline: SearchPipeline
    similar_items: SimilarItems
    suggester: Suggester  # kept current by catalog writes, like the pipeline's per-product columns
    generation: Generation | None
    writes: Writes
    currency: Lazy[str]  # the catalog's, for price phrases: counted once per generation


def catalog_currency(catalog: Catalog) -> str:
    counts = Counter(p.currency.upper() for p in catalog.live())
    return counts.most_common(1)[0][0] if counts else "USD"


def serve(artifacts: IndexArtifacts, generation: Generation | None, pipeline: SearchPipeline,
          currency: str | None = None) -> Served:
    """``artifacts`` ready to serve with ``pipeline`` (the currency counted on first use)."""
    return Served(artifacts, pipeline, SimilarItems(artifacts), Suggester(artifacts.catalog),
                  generation, Writes(seq=int(artifacts.manifest.get("catalog_seq") or 0)),
                  Lazy(lambda: currency or catalog_currency(artifacts.catalog)))


ServeFn = Callable[[IndexArtifacts, Generation | None, Ranker | None], Served]
