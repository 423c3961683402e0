"""The search orchestrator: a list of named stages with candidate budgets.

retrieve → fuse → filter → features → rank → rerank → rules → present (see
:mod:`shoprank.search.stages` and :mod:`shoprank.search.present`). Each stage reads the query
plan and what the stages before it left in the search's state; a new stage is one object with a
``name`` and a ``__call__(state)``, inserted in :attr:`SearchPipeline.stages`.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

from shoprank.features.extract import FeatureExtractor
from shoprank.index.artifacts import IndexArtifacts
from shoprank.personalization.signals import PersonalContext
from shoprank.query.plan import QueryPlan
from shoprank.ranking.base import Ranker
from shoprank.ranking.rerank import CrossEncoderReranker
from shoprank.retrieval.hybrid import HybridRetriever
from shoprank.search.present import Present
from shoprank.search.rules import Rule
from shoprank.search.stages import Features, Filter, Fuse, Rank, Rerank, Retrieve, Rules, Stage
from shoprank.search.state import Budgets, Candidates, SearchResult, SearchState
from shoprank.types import FusionMethod, Query

# The stages up to here make a ranker's input (:meth:`SearchPipeline.candidates`).
CANDIDATE_STAGES = ("retrieve", "fuse", "filter", "features")
# Reported timings: each a sum of stages (the keys pages and benchmarks read).
_TIMED = {"candidates": CANDIDATE_STAGES, "rank": ("rank",), "collapse": ("rules", "present")}


class SearchPipeline:
    def __init__(self, artifacts: IndexArtifacts, retriever: HybridRetriever, extractor: FeatureExtractor,
                 ranker: Ranker, budgets: Budgets = Budgets(), fusion: FusionMethod = "rrf",
                 reranker: CrossEncoderReranker | None = None, rules: Sequence[Rule] = ()):
        self.art = artifacts
        self.retriever = retriever
        self.extractor = extractor
        self.ranker = ranker
        self.budgets = budgets
        self.fusion = fusion
        self.rules = Rules(rules)
        self.reranker = reranker  # builds the stages

    @property
    def reranker(self) -> CrossEncoderReranker | None:
        return self._reranker

    @reranker.setter
    def reranker(self, reranker: CrossEncoderReranker | None) -> None:
        self._reranker = reranker
        art, ex, budgets = self.art, self.extractor, self.budgets
        self.stages: list[Stage] = [
            Retrieve(self.retriever, budgets), Fuse(self.retriever, art), Filter(art, ex, budgets),
            Features(art, ex), Rank(), *([Rerank(art, reranker)] if reranker else []), self.rules,
            Present(art, ex, budgets, reranker)]

    def _state(self, query: Query, plan: QueryPlan, personal: PersonalContext | None,
               ranker: Ranker | None) -> SearchState:
        return SearchState(query, plan, ranker or self.ranker, query.fusion or self.fusion, personal)

    @staticmethod
    def _run(stages: Sequence[Stage], state: SearchState) -> None:
        for stage in stages:
            t0 = time.perf_counter()
            stage(state)
            state.timings[stage.name] = (time.perf_counter() - t0) * 1000

    def candidates(self, query: Query, plan: QueryPlan, personal: PersonalContext | None = None) -> Candidates:
        """Retrieve, fuse, filter to the rerank budget, and extract features."""
        state = self._state(query, plan, personal, None)
        self._run([s for s in self.stages if s.name in CANDIDATE_STAGES], state)
        return Candidates(state.runs, state.batch, state.fusion)

    def run(self, query: Query, plan: QueryPlan, personal: PersonalContext | None = None,
            ranker: Ranker | None = None) -> SearchResult:
        """Search: every stage in turn. ``ranker``: instead of the pipeline's (an experiment's arm)."""
        state = self._state(query, plan, personal, ranker)
        self._run(self.stages, state)
        assert state.result is not None
        timings = {"encode": plan.encode_ms,
                   **{key: sum(state.timings.get(s, 0.0) for s in stages) for key, stages in _TIMED.items()}}
        if state.reranked is not None:
            timings["rerank"] = state.timings["rerank"]
        timings["pipeline"] = sum(state.timings.values())
        timings["total"] = timings["encode"] + timings["pipeline"]
        state.result.timings_ms = {k: round(v, 3) for k, v in timings.items()}
        return state.result
