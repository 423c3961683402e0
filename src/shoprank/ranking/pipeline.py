"""Search as explicit phases with candidate budgets: retrieve → filter → features → rank → collapse."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from shoprank.features.extract import FeatureExtractor
from shoprank.features.query_parse import ParsedQuery
from shoprank.index.artifacts import IndexArtifacts
from shoprank.ranking.base import Ranker
from shoprank.retrieval.hybrid import HybridRetriever, QueryEncoding
from shoprank.types import FusionMethod, Hit, Query


@dataclass(frozen=True)
class Budgets:
    retrieve_k: int = 200  # per retriever
    rerank_k: int = 200    # candidates the ranker scores


@dataclass
class SearchResult:
    hits: list[Hit]
    parsed: ParsedQuery | None
    candidates: int
    fusion: FusionMethod
    retrievers: list[str]
    timings_ms: dict[str, float] = field(default_factory=dict)
    photo_labels: list[tuple[str, float]] = field(default_factory=list)


class SearchPipeline:
    def __init__(self, artifacts: IndexArtifacts, retriever: HybridRetriever, extractor: FeatureExtractor,
                 ranker: Ranker, budgets: Budgets = Budgets(), fusion: FusionMethod = "rrf"):
        self.art = artifacts
        self.retriever = retriever
        self.extractor = extractor
        self.ranker = ranker
        self.budgets = budgets
        self.fusion = fusion

    def run(self, query: Query, enc: QueryEncoding, parsed: ParsedQuery | None) -> SearchResult:
        t = {"t0": time.perf_counter()}
        products = self.art.catalog.products
        fusion = query.fusion or self.fusion
        # A filter discards candidates after retrieval, so widen the net to keep k results.
        k_ret = self.budgets.retrieve_k if query.filters.empty else max(self.budgets.retrieve_k, 10 * self.budgets.retrieve_k)
        runs = self.retriever.runs(enc, k_ret)
        if runs:
            fused = self.retriever.fuse(runs, fusion)
        else:  # no text and no photo: browse, e.g. a category page
            fused = [(i, 0.0) for i in range(len(products))]
        t["retrieve"] = time.perf_counter()
        cands = [pos for pos, _ in fused if query.filters.accepts(products[pos])][: self.budgets.rerank_k]
        fused_map = dict(fused)
        X = self.extractor.extract(enc, parsed, cands, fused_map)
        t["features"] = time.perf_counter()
        contrib = self.ranker.explain(X)
        scores = contrib.sum(axis=1) if len(cands) else np.zeros(0)
        t["rank"] = time.perf_counter()
        ranks = {name: {pos: r for r, (pos, _) in enumerate(run, 1)} for name, run in runs.items()}
        hits: list[Hit] = []
        seen_groups: set[str] = set()
        for i in np.argsort(-scores, kind="stable"):
            p = products[cands[i]]
            if query.collapse_variants:
                if p.group_id in seen_groups:
                    continue
                seen_groups.add(p.group_id)
            names = self.extractor.names
            hits.append(Hit(
                product=p, score=float(scores[i]),
                features={n: float(v) for n, v in zip(names, X[i])} if query.explain else {},
                contributions={n: float(v) for n, v in zip(names, contrib[i]) if v != 0} if query.explain else {},
                retrievers={name: r[cands[i]] for name, r in ranks.items() if cands[i] in r}))
            if len(hits) >= query.k:
                break
        t["collapse"] = time.perf_counter()
        stamps = list(t.items())
        timings = {k: round((v - stamps[j][1]) * 1000, 3) for j, (k, v) in enumerate(stamps[1:])}
        return SearchResult(hits, parsed, len(cands), fusion, sorted(runs), timings, enc.photo_labels)
