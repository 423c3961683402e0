"""What the search stages share: the budgets, one search's state, and what it returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shoprank.personalization.signals import PersonalContext
from shoprank.query.parse import ParsedQuery
from shoprank.query.plan import QueryPlan, Rewrite
from shoprank.ranking.base import CandidateBatch, Ranker
from shoprank.ranking.rerank import Reranked
from shoprank.retrieval.facets import FacetValue
from shoprank.retrieval.fusion import Fused, Run
from shoprank.types import FusionMethod, Hit, Query


@dataclass(frozen=True)
class Budgets:
    retrieve_k: int = 200  # per retriever
    rerank_k: int = 200    # candidates the ranker scores
    # Without a keyword match to define "what matched", facets and sorting use the top ranked.
    facet_k: int = 50
    # A photo's matches end at the largest drop in its similarities, if one drop is this large.
    match_drop: float = 0.05
    # A filter discards candidates after retrieval, so each retriever fetches this many times more.
    filter_widen: int = 10
    # How far an out-of-stock product drops in a relevance ranking, as a share of the query's
    # candidate score range (see ``demote_out_of_stock``); 1 or more: after every in-stock one.
    out_of_stock_band: float = 0.1


@dataclass
class Candidates:
    """What the ranker sees for one query: each retriever's list, and the fused, filtered
    candidates with their features (the fused score is the "rrf" column)."""

    runs: dict[str, Run]
    batch: CandidateBatch
    fusion: FusionMethod

    @property
    def positions(self) -> list[int]:
        return [int(p) for p in self.batch.positions]

    @property
    def X(self) -> np.ndarray:
        return self.batch.X


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
    # Products (models, with collapse_variants) in the matching set the facets count; the hits
    # after the matching ones (``Hit.match`` False) only fill the page.
    matches: int = 0
    personalized: bool = False  # a profile with events shaped this ranking
    profile_events: int = 0     # how many events that profile held
    rewrites: list[Rewrite] = field(default_factory=list)  # how the query was read (query understanding)
    query_text: str | None = None  # the text searched for, after rewrites that replace it
    # Did-you-mean: the corrected query, and whether it was searched instead of the typed one (True)
    # or only beside it (False); None: no typo correction.
    did_you_mean: str | None = None
    auto_corrected: bool = False


@dataclass
class SearchState:
    """One search as it passes through the stages; each stage fills in its part."""

    query: Query
    plan: QueryPlan
    ranker: Ranker
    fusion: FusionMethod
    personal: PersonalContext | None = None
    runs: dict[str, Run] = field(default_factory=dict)   # retrieve
    fused: Fused = field(default_factory=list)           # fuse
    kept: list[int] = field(default_factory=list)        # filter: catalog positions, fused order
    # features
    batch: CandidateBatch = field(default_factory=lambda: CandidateBatch(np.zeros((0, 0), np.float32), names=[]))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # rank (and rerank): one per batch row
    reranked: Reranked | None = None                     # rerank
    # Rules: catalog positions pinned to a slot on the page (0: first), and positions never shown.
    pins: dict[int, int] = field(default_factory=dict)
    hidden: set[int] = field(default_factory=set)
    moved_by: dict[int, dict[str, float]] = field(default_factory=dict)  # position -> rule id -> score shift
    result: SearchResult | None = None                   # present
    timings: dict[str, float] = field(default_factory=dict)  # per stage, ms
