"""The search orchestrator: explicit phases with candidate budgets.

retrieve (each retriever's top ``retrieve_k``) → fuse → filter (to ``rerank_k``) →
features → rank → rerank the top few (a cross-encoder, when one is configured) → facets and
sort → collapse variants → ``k`` hits. Only retrieval looks at the whole index; every later
phase touches the candidates alone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from shoprank.features.extract import FeatureExtractor
from shoprank.features.query_parse import ParsedQuery
from shoprank.index.artifacts import IndexArtifacts
from shoprank.modalities import dense_routes
from shoprank.personalization.signals import PersonalContext
from shoprank.ranking.base import CandidateBatch, Ranker
from shoprank.ranking.cross_encoder import product_text
from shoprank.ranking.rerank import CrossEncoderReranker, Reranked
from shoprank.retrieval.facets import FacetValue, count_facets
from shoprank.retrieval.fusion import Run
from shoprank.retrieval.hybrid import HybridRetriever
from shoprank.retrieval.matching import score_cliff
from shoprank.types import FusionMethod, Hit, Product, Query, QueryEncoding

# Retrievers of the query photo: without a keyword match, their similarities say what matched.
_PHOTO_RETRIEVERS = tuple(r.retriever for _, r in dense_routes() if r.query == "photo" and r.retriever)


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


def demote_out_of_stock(order: np.ndarray, scores: np.ndarray, buyable: np.ndarray, band: float) -> np.ndarray:
    """``order`` (indices into ``scores``) with each out-of-stock candidate moved below the in-stock
    ones scoring within ``band`` of the score range above it, and no further.

    An exact match that is sold out then stays above clearly less relevant items that can be
    bought (a relevance band, as large shops demote) instead of sinking below all of them;
    ``band >= 1`` puts every out-of-stock candidate after every in-stock one."""
    if buyable.all():
        return order
    if band >= 1.0:
        return np.concatenate([order[buyable[order]], order[~buyable[order]]])  # stable: each part keeps its order
    s = np.asarray(scores, np.float64)
    penalty = band * float(s.max() - s.min()) * ~buyable
    # lexsort: by demoted score, ties broken by the original order (an in-stock one stays first).
    rank_in = np.empty(len(s), np.int64)
    rank_in[order] = np.arange(len(order))
    key = -(s - penalty)
    return order[np.lexsort((rank_in[order], ~buyable[order], key[order]))]


class SearchPipeline:
    def __init__(self, artifacts: IndexArtifacts, retriever: HybridRetriever, extractor: FeatureExtractor,
                 ranker: Ranker, budgets: Budgets = Budgets(), fusion: FusionMethod = "rrf",
                 reranker: CrossEncoderReranker | None = None):
        self.art = artifacts
        self.retriever = retriever
        self.extractor = extractor
        self.ranker = ranker
        self.reranker = reranker
        self.budgets = budgets
        self.fusion = fusion
        self._colors = extractor.signals.colors  # canonical colours per product, for filters and facets

    def candidates(self, query: Query, enc: QueryEncoding, parsed: ParsedQuery | None,
                   personal: PersonalContext | None = None) -> Candidates:
        """Retrieve, fuse, filter to the rerank budget, and extract features."""
        products = self.art.catalog.products
        fusion = query.fusion or self.fusion
        k_ret = self.budgets.retrieve_k * (1 if query.filters.empty else self.budgets.filter_widen)
        runs = self.retriever.runs(enc, k_ret)
        if runs:
            fused = self.retriever.fuse(runs, fusion)
        else:  # no text and no photo: browse, e.g. a category page
            fused = [(i, 0.0) for i in range(len(products))]
        keep: list[int] = []
        catalog = self.art.catalog
        check_live = not catalog.all_live
        for pos, _ in fused:
            if check_live and not catalog.is_live(pos):  # deleted, or replaced by a newer version elsewhere
                continue
            if query.filters.empty or query.filters.accepts(products[pos], self._colors[pos]):
                keep.append(pos)
                if len(keep) >= self.budgets.rerank_k:
                    break
        positions = np.array(keep, np.int64)
        X = self.extractor.extract(enc, parsed, keep, dict(fused), personal)
        batch = CandidateBatch(X, positions, [products[p].id for p in keep], enc.vectors, self.art)
        return Candidates(runs, batch, fusion)

    def _matching(self, c: Candidates, order: np.ndarray, sort: str) -> np.ndarray:
        """Rows (in rank order) that count as matching the query: what the facets count and a
        sort lists.

        Dense retrievers return something for any query, so sorting every candidate by price
        would surface the cheapest unrelated item: a sort lists the keyword matches. In relevance
        order the set is the ranking down to its last keyword match: what the ranker puts above a
        keyword match is no filler (a messenger bag for "red backpack" ranks above a red shirt that
        matched "red"), and moving keyword matches above it lost relevance. For a photo, the
        products before the cliff in its similarities (:func:`score_cliff`); otherwise the
        ``facet_k`` best ranked."""
        if not c.runs:
            return order

        def found(run: Run) -> np.ndarray:  # per row of ``order``: is its product in ``run``
            return np.isin(c.batch.positions[order], np.fromiter((pos for pos, _ in run), np.int64, len(run)))

        run = c.runs.get("bm25")
        if run:
            keyword = found(run)
            if sort != "relevance":
                return order[keyword]
            return order[: int(np.flatnonzero(keyword)[-1]) + 1] if keyword.any() else order[:0]
        photo = next((c.runs[name] for name in _PHOTO_RETRIEVERS if name in c.runs), None)
        if photo is None:
            return order[: self.budgets.facet_k]
        top = photo[: self.budgets.facet_k]
        return order[found(top[: score_cliff([s for _, s in top], self.budgets.match_drop)])]

    @staticmethod
    def _sort(order: np.ndarray, products: list[Product], positions: np.ndarray, how: str) -> np.ndarray:
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
        ranker = query.ranker or self.ranker
        scores = ranker.score(c.batch)
        t_rank = time.perf_counter()
        reranked: Reranked | None = None
        if self.reranker is not None and query.text and self.reranker.reads(query.text) \
                and query.sort == "relevance" and len(scores):
            scores, reranked = self._rerank(self.reranker, query.text, c.batch, scores)
        t2 = time.perf_counter()
        products = self.art.catalog.products
        positions = c.batch.positions
        ranks = {name: {pos: r for r, (pos, _) in enumerate(run, 1)} for name, run in c.runs.items()}
        order = np.argsort(-scores, kind="stable")
        matching = self._matching(c, order, query.sort)
        matched = positions[matching].tolist()
        facets = count_facets([products[p] for p in matched], query.collapse_variants,
                              [self._colors[p] for p in matched])
        n_matches = len({products[p].group_id if query.collapse_variants else products[p].id for p in matched})
        if query.sort != "relevance":
            order = self._sort(matching, products, positions, query.sort)
        if query.out_of_stock_last:
            # Sorted by price or rating, sold-out items go last; by relevance, within a band.
            band = self.budgets.out_of_stock_band if query.sort == "relevance" else 1.0
            order = demote_out_of_stock(order, scores, self.extractor.in_stock[positions], band)
        # Matches first; the rest (dense neighbours of nothing the query asked for) fill the page after
        # them. Only a photo's matches can trail in the ranking: elsewhere they are its head already.
        is_match = np.zeros(len(positions), bool)
        is_match[matching] = True
        order = np.concatenate([order[is_match[order]], order[~is_match[order]]])
        hits: list[Hit] = []
        rows: list[int] = []
        seen_groups: set[str] = set()
        for i in order:
            pos = int(positions[i])
            p = products[pos]
            if query.collapse_variants:
                if p.group_id in seen_groups:
                    continue
                seen_groups.add(p.group_id)
            hits.append(Hit(product=p, score=float(scores[i]), match=bool(is_match[i]),
                            retrievers={name: r[pos] for name, r in ranks.items() if pos in r}))
            rows.append(int(i))
            if len(hits) >= query.k:
                break
        if query.explain and hits:
            self._explain(hits, rows, c.batch, ranker, reranked)
        t3 = time.perf_counter()
        timings = {"encode": enc.encode_ms, "candidates": (t1 - t0) * 1000, "rank": (t_rank - t1) * 1000,
                   "collapse": (t3 - t2) * 1000, "pipeline": (t3 - t0) * 1000}
        if reranked is not None:
            timings["rerank"] = (t2 - t_rank) * 1000
        timings["total"] = timings["encode"] + timings["pipeline"]
        return SearchResult(hits, parsed, len(positions), c.fusion, sorted(c.runs),
                            {k: round(v, 3) for k, v in timings.items()}, enc.photo_labels, facets, n_matches,
                            personalized=personal is not None and personal.profile.n_events > 0,
                            profile_events=personal.profile.n_events if personal is not None else 0)

    def _rerank(self, reranker: CrossEncoderReranker, text: str, batch: CandidateBatch,
                scores: np.ndarray) -> tuple[np.ndarray, Reranked]:
        """The ranker's top ``reranker.top`` rescored by the reranker; every other candidate keeps
        its order, shifted below the lowest rescored one (``Reranked.shift``)."""
        top = np.argsort(-scores, kind="stable")[:reranker.top]
        products = self.art.catalog.products
        texts = [product_text(products[int(batch.positions[i])]) for i in top]
        r = reranker.rerank(text, texts, batch.X[top], scores[top], top)
        out = np.asarray(scores, np.float64).copy()
        rest = np.ones(len(out), bool)
        rest[top] = False
        if rest.any():
            r.shift = float(r.scores.min() - 1.0 - out[rest].max())
            out[rest] += r.shift
        out[top] = r.scores
        return out, r

    def _explain(self, hits: list[Hit], rows: list[int], batch: CandidateBatch, ranker: Ranker,
                 reranked: Reranked | None = None) -> None:
        # Only the returned hits are explained: for tree models that is most of the cost.
        names = ranker.explained_names(batch)  # the batch's columns, then any the ranker read at its fallback
        contrib = ranker.explain(batch, rows)
        base = ranker.base_score()
        weights = ranker.modality_weights(batch, rows)
        for hit, i, row, w in zip(hits, rows, contrib, weights, strict=True):
            hit.features = {n: float(v) for n, v in zip(names, batch.X[i])}
            hit.contributions = {n: float(v) for n, v in zip(names, row) if v != 0}
            if base:
                hit.contributions["base"] = base
            hit.modality_weights = w
        if reranked is None:
            return
        # Reranked hits: the stack's contributions (features, "first_stage", "cross_encoder");
        # the others: the ranker's, plus the shift that put them below the reranked ones.
        at = {int(r): j for j, r in enumerate(reranked.rows)}
        mine = [(hit, at[i]) for hit, i in zip(hits, rows) if i in at]
        explained = self.reranker.explain(reranked.X[[j for _, j in mine]]) if self.reranker and mine else []
        for (hit, j), parts in zip(mine, explained):
            hit.features["cross_encoder"] = float(reranked.ce[j])
            hit.contributions = {n: v for n, v in parts.items() if v != 0}
        for hit, i in zip(hits, rows):
            if i not in at and reranked.shift:
                hit.contributions["rerank_shift"] = reranked.shift
