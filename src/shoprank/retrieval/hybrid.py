"""Hybrid retrieval: BM25 plus one dense retriever per modality route, fused late."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shoprank.index.artifacts import IndexArtifacts
from shoprank.modalities import dense_routes, retriever_weights
from shoprank.query.plan import QueryPlan
from shoprank.registry import Registry
from shoprank.retrieval.fusion import FUSION_METHODS, Fused, Run


class Retriever:
    """One candidate list for a query: ``run`` returns (catalog position, score), best first."""

    name: str

    def run(self, art: IndexArtifacts, plan: QueryPlan, k: int) -> Run:
        raise NotImplementedError


@dataclass(frozen=True)
class LexicalRetriever(Retriever):
    """BM25 over the product fields."""

    name: str = "bm25"

    def run(self, art: IndexArtifacts, plan: QueryPlan, k: int) -> Run:
        queries = plan.lexical_queries()
        if len(queries) <= 1:
            return art.lexical.search(queries[0][0], k) if queries else []
        # The query and its alternatives: each product at its best weighted score.
        best: dict[int, float] = {}
        for text, weight, idf_from in queries:
            for pos, score in art.lexical.search(text, k, idf_from=idf_from):
                best[pos] = max(best.get(pos, 0.0), weight * score)
        return sorted(best.items(), key=lambda h: -h[1])[:k]


@dataclass(frozen=True)
class DenseRetriever(Retriever):
    """The query vector ``query_key`` against the vector index of ``modality``."""

    name: str
    modality: str
    query_key: str

    def run(self, art: IndexArtifacts, plan: QueryPlan, k: int) -> Run:
        vec = plan.vectors.get(self.query_key)
        mod = art.modalities.get(self.modality)
        if vec is None or mod is None:
            return []
        return mod.index.search(vec, k)


RETRIEVERS: Registry[Retriever] = Registry("retriever")
RETRIEVERS.register("lexical", LexicalRetriever)
RETRIEVERS.register("dense", DenseRetriever)


def retrievers_for(art: IndexArtifacts) -> list[Retriever]:
    """BM25, then a dense retriever for every route of a modality this index holds."""
    out: list[Retriever] = [RETRIEVERS.create("lexical")]
    for spec, route in dense_routes():
        if route.retriever and spec.name in art.modalities and (art.joint or not route.joint_only):
            out.append(RETRIEVERS.create("dense", route.retriever, spec.name, spec.query_key(route)))
    return out


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The default fusion weights with ``weights`` over them; an unknown retriever is an error."""
    known = retriever_weights()
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValueError(f"weights for unknown retrievers {unknown}; known: {', '.join(known)}")
    return {**known, **weights}


class HybridRetriever:
    def __init__(self, artifacts: IndexArtifacts, weights: Mapping[str, float] | None = None, rrf_k: int = 60):
        self.artifacts = artifacts
        self.weights = check_weights(weights or {})
        self.rrf_k = rrf_k
        self.retrievers = retrievers_for(artifacts)

    def runs(self, plan: QueryPlan, k: int) -> dict[str, Run]:
        """Each applicable retriever's top ``k`` as (catalog position, score); empty lists dropped."""
        runs = {r.name: r.run(self.artifacts, plan, k) for r in self.retrievers}
        return {name: run for name, run in runs.items() if run}

    def fuse(self, runs: Mapping[str, Run], method: str = "rrf") -> Fused:
        return FUSION_METHODS.create(method, runs, self.weights, self.rrf_k)
