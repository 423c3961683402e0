"""The search stages before presentation, each one small object with one job.

retrieve (each retriever's top ``retrieve_k``) → fuse → filter (to ``rerank_k``) → features →
rank → rerank (the top few, by a cross-encoder, when one is configured) → rules. Only
retrieval looks at the whole index; every later stage touches the candidates alone. A stage is
called with the search's :class:`~shoprank.search.state.SearchState` and fills in its part.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from shoprank.features.extract import FeatureExtractor
from shoprank.index.artifacts import IndexArtifacts
from shoprank.ranking.base import CandidateBatch
from shoprank.ranking.cross_encoder import product_text
from shoprank.ranking.rerank import CrossEncoderReranker
from shoprank.retrieval.hybrid import HybridRetriever
from shoprank.search.rules import Rule
from shoprank.search.state import Budgets, SearchState


class Stage(Protocol):
    name: str

    def __call__(self, state: SearchState) -> None: ...


class Retrieve:
    name = "retrieve"

    def __init__(self, retriever: HybridRetriever, budgets: Budgets):
        self.retriever, self.budgets = retriever, budgets

    def __call__(self, state: SearchState) -> None:
        widen = 1 if state.query.filters.empty else self.budgets.filter_widen
        state.runs = self.retriever.runs(state.plan, self.budgets.retrieve_k * widen)


class Fuse:
    name = "fuse"

    def __init__(self, retriever: HybridRetriever, artifacts: IndexArtifacts):
        self.retriever, self.art = retriever, artifacts

    def __call__(self, state: SearchState) -> None:
        if state.runs:
            state.fused = self.retriever.fuse(state.runs, state.fusion)
        else:  # no text and no photo: browse, e.g. a category page
            state.fused = [(i, 0.0) for i in range(len(self.art.catalog.products))]


class Filter:
    """Live products that pass the query's filters, in fused order, up to the rerank budget."""

    name = "filter"

    def __init__(self, artifacts: IndexArtifacts, extractor: FeatureExtractor, budgets: Budgets):
        self.art, self.budgets = artifacts, budgets
        self._colors = extractor.signals.colors  # canonical colours per product

    def __call__(self, state: SearchState) -> None:
        catalog, filters = self.art.catalog, state.query.filters
        products = catalog.products
        check_live = not catalog.all_live
        keep: list[int] = []
        for pos, _ in state.fused:
            if check_live and not catalog.is_live(pos):  # deleted, or replaced by a newer version elsewhere
                continue
            if filters.empty or filters.accepts(products[pos], self._colors[pos]):
                keep.append(pos)
                if len(keep) >= self.budgets.rerank_k:
                    break
        state.kept = keep


class Features:
    name = "features"

    def __init__(self, artifacts: IndexArtifacts, extractor: FeatureExtractor):
        self.art, self.extractor = artifacts, extractor

    def __call__(self, state: SearchState) -> None:
        keep, products = state.kept, self.art.catalog.products
        X = self.extractor.extract(state.plan, keep, dict(state.fused), state.personal)
        state.batch = CandidateBatch(X, np.array(keep, np.int64), [products[p].id for p in keep],
                                     state.plan.vectors, self.art, self.extractor.names)


class Rank:
    name = "rank"

    def __call__(self, state: SearchState) -> None:
        state.scores = state.ranker.score(state.batch)


class Rerank:
    """The ranker's top ``reranker.top`` rescored by the reranker; every other candidate keeps
    its order, shifted below the lowest rescored one (``Reranked.shift``)."""

    name = "rerank"

    def __init__(self, artifacts: IndexArtifacts, reranker: CrossEncoderReranker):
        self.art, self.reranker = artifacts, reranker

    def __call__(self, state: SearchState) -> None:
        text, scores, batch = state.plan.text, state.scores, state.batch
        if not text or not self.reranker.reads(text) or state.query.sort != "relevance" or not len(scores):
            return
        top = np.argsort(-scores, kind="stable")[:self.reranker.top]
        products = self.art.catalog.products
        texts = [product_text(products[int(batch.positions[i])]) for i in top]
        r = self.reranker.rerank(text, texts, batch.X[top], scores[top], top, batch.names)
        out = np.asarray(scores, np.float64).copy()
        rest = np.ones(len(out), bool)
        rest[top] = False
        if rest.any():
            r.shift = float(r.scores.min() - 1.0 - out[rest].max())
            out[rest] += r.shift
        out[top] = r.scores
        state.scores, state.reranked = out, r


class Rules:
    """Merchandising rules, in order (see :mod:`shoprank.search.rules`)."""

    name = "rules"

    def __init__(self, rules: Sequence[Rule] = ()):
        self.rules = list(rules)

    def __call__(self, state: SearchState) -> None:
        for rule in self.rules:
            rule.apply(state)
