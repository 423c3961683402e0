"""Search as explicit phases with candidate budgets: retrieve → filter → features → rank → facet/sort → collapse."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from shoprank.features.extract import FeatureExtractor
from shoprank.features.query_parse import ParsedQuery
from shoprank.index.artifacts import IndexArtifacts
from shoprank.ranking.base import Ranker
from shoprank.personalization.signals import PersonalContext
from shoprank.retrieval.facets import FacetValue, count_facets
from shoprank.retrieval.fusion import Run
from shoprank.retrieval.hybrid import HybridRetriever, QueryEncoding
from shoprank.types import FusionMethod, Hit, Product, Query


@dataclass(frozen=True)
class Budgets:
    retrieve_k: int = 200  # per retriever
    rerank_k: int = 200    # candidates the ranker scores
    # Without a keyword match to define "what matched", facets and sorting use the top ranked.
    facet_k: int = 50


@dataclass
class Candidates:
    """What the ranker sees for one query: each retriever's list, and the fused, filtered
    candidates (catalog positions) with their feature rows (the fused score is the "rrf" column)."""

    runs: dict[str, Run]
    positions: list[int]
    X: np.ndarray
    fusion: FusionMethod


@dataclass
class SearchResult:
    hits: list[Hit]
    parsed: ParsedQuery | None
    candidates: int
    fusion: FusionMethod
    retrievers: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)
    photo_labels: list[tuple[str, float]] = field(default_factory=list)
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    personalized: bool = False  # a profile with events shaped this ranking
    profile_events: int = 0     # how many events that profile held


class SearchPipeline:
    def __init__(self, artifacts: IndexArtifacts, retriever: HybridRetriever, extractor: FeatureExtractor,
                 ranker: Ranker, budgets: Budgets = Budgets(), fusion: FusionMethod = "rrf"):
        self.art = artifacts
        self.retriever = retriever
        self.extractor = extractor
        self.ranker = ranker
        self.budgets = budgets
        self.fusion = fusion

    def candidates(self, query: Query, enc: QueryEncoding, parsed: ParsedQuery | None,
                   personal: PersonalContext | None = None) -> Candidates:
        """Phases 1-2: retrieve, fuse, filter to the rerank budget, and extract features."""
        products = self.art.catalog.products
        fusion = query.fusion or self.fusion
        # A filter discards candidates after retrieval, so widen the net to keep k results.
        k_ret = self.budgets.retrieve_k if query.filters.empty else 10 * self.budgets.retrieve_k
        runs = self.retriever.runs(enc, k_ret)
        if runs:
            fused = self.retriever.fuse(runs, fusion)
        else:  # no text and no photo: browse, e.g. a category page
            fused = [(i, 0.0) for i in range(len(products))]
        positions = [pos for pos, _ in fused if query.filters.accepts(products[pos])][: self.budgets.rerank_k]
        X = self.extractor.extract(enc, parsed, positions, dict(fused), personal)
        return Candidates(runs, positions, X, fusion)

    def _matching(self, c: Candidates, order: np.ndarray) -> np.ndarray:
        """Rows (in rank order) that count as matching the query, for facets and sorting.

        Dense retrievers return something for any query, so sorting every candidate by price
        would surface the cheapest unrelated item. Keyword matches define the set when there
        are any; otherwise the ``facet_k`` best ranked do."""
        bm25 = c.runs.get("bm25")
        if not c.runs:
            return order
        if bm25:
            matched = {pos for pos, _ in bm25}
            return np.array([i for i in order if c.positions[i] in matched], np.int64)
        return order[: self.budgets.facet_k]

    @staticmethod
    def _sort(order: np.ndarray, products: list[Product], positions: list[int], how: str) -> np.ndarray:
        if how == "relevance":
            return order

        def key(i: int) -> float:
            p = products[positions[i]]
            if how == "rating":
                return -(p.rating or 0.0)
            price = p.price if p.price is not None else float("inf")
            return price if how == "price_asc" else -price

        return np.array(sorted(order, key=key), np.int64)  # stable: ties stay in relevance order

    def run(self, query: Query, enc: QueryEncoding, parsed: ParsedQuery | None,
            personal: PersonalContext | None = None) -> SearchResult:
        t0 = time.perf_counter()
        c = self.candidates(query, enc, parsed, personal)
        t1 = time.perf_counter()
        scores = self.ranker.score(c.X)
        t2 = time.perf_counter()
        products = self.art.catalog.products
        ranks = {name: {pos: r for r, (pos, _) in enumerate(run, 1)} for name, run in c.runs.items()}
        names = self.extractor.names
        order = np.argsort(-scores, kind="stable")
        matching = self._matching(c, order)
        facets = count_facets([products[c.positions[i]] for i in matching], query.collapse_variants)
        if query.sort != "relevance":
            order = self._sort(matching, products, c.positions, query.sort)
        hits: list[Hit] = []
        rows: list[int] = []
        seen_groups: set[str] = set()
        for i in order:
            pos = c.positions[i]
            p = products[pos]
            if query.collapse_variants:
                if p.group_id in seen_groups:
                    continue
                seen_groups.add(p.group_id)
            hits.append(Hit(product=p, score=float(scores[i]),
                            retrievers={name: r[pos] for name, r in ranks.items() if pos in r}))
            rows.append(int(i))
            if len(hits) >= query.k:
                break
        if query.explain and hits:
            # Only the returned hits are explained: for tree models that is most of the cost.
            contrib = self.ranker.explain(c.X, rows)
            base = self.ranker.base_score()
            for hit, i, row in zip(hits, rows, contrib):
                hit.features = {n: float(v) for n, v in zip(names, c.X[i])}
                hit.contributions = {n: float(v) for n, v in zip(names, row) if v != 0}
                if base:
                    hit.contributions["base"] = base
        t3 = time.perf_counter()
        timings = {"candidates": (t1 - t0) * 1000, "rank": (t2 - t1) * 1000, "collapse": (t3 - t2) * 1000}
        return SearchResult(hits, parsed, len(c.positions), c.fusion, sorted(c.runs),
                            {k: round(v, 3) for k, v in timings.items()}, enc.photo_labels, facets,
                            personalized=personal is not None and personal.profile.n_events > 0,
                            profile_events=personal.profile.n_events if personal is not None else 0)
