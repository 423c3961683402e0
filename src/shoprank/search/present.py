"""The last stage: from scored candidates to the page.

What matches (the set the facets count and a sort lists) → facets → the order asked for
(relevance or a sort, sold-out items demoted) → matches first → variants collapsed to ``k``
hits, with the rules' pins and hides → explanations of the hits returned.
"""
from __future__ import annotations

import numpy as np

from shoprank.features.extract import FeatureExtractor
from shoprank.index.artifacts import IndexArtifacts
from shoprank.index.sources.video import video_moment
from shoprank.modalities import dense_routes
from shoprank.ranking.base import CandidateBatch, Ranker
from shoprank.ranking.rerank import CrossEncoderReranker, Reranked
from shoprank.retrieval.facets import count_facets
from shoprank.retrieval.fusion import Run
from shoprank.retrieval.matching import score_cliff
from shoprank.search.state import Budgets, SearchResult, SearchState
from shoprank.types import Hit, Product

# Retrievers of the query photo: without a keyword match, their similarities say what matched.
_PHOTO_RETRIEVERS = tuple(r.retriever for _, r in dense_routes() if r.query == "photo" and r.retriever)


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


def sort_rows(order: np.ndarray, products: list[Product], positions: np.ndarray, how: str) -> np.ndarray:
    """``order`` by price or rating (stable: ties stay in relevance order)."""
    if how == "relevance":
        return order

    def key(i: int) -> float:
        p = products[positions[i]]
        if how == "rating":
            return -(p.rating or 0.0)
        price = p.price if p.price is not None else float("inf")
        return price if how == "price_asc" else -price

    return np.array(sorted(order, key=key), np.int64)


def note_rules(hits: list[Hit], positions: list[int], moved_by: dict[int, dict[str, float]], explain: bool) -> None:
    """Each hit a rule placed or moved names the rule; explained, with the score it added ("rule:<id>")."""
    for hit, pos in zip(hits, positions, strict=True):
        moved = moved_by.get(pos, {})
        hit.rules = sorted(moved)
        if explain:
            hit.contributions.update({f"rule:{rule_id}": shift for rule_id, shift in moved.items() if shift})


class Present:
    name = "present"

    def __init__(self, artifacts: IndexArtifacts, extractor: FeatureExtractor, budgets: Budgets,
                 reranker: CrossEncoderReranker | None = None):
        self.art, self.extractor, self.budgets, self.reranker = artifacts, extractor, budgets, reranker
        self._colors = extractor.signals.colors

    def __call__(self, state: SearchState) -> None:
        query, batch, scores = state.query, state.batch, state.scores
        products = self.art.catalog.products
        positions = batch.positions
        order = np.argsort(-scores, kind="stable")
        matching = self.matching(state.runs, positions, order, query.sort)
        matched = [p for p in positions[matching].tolist() if p not in state.hidden]  # a hidden one counts nowhere
        facets = count_facets([products[p] for p in matched], query.collapse_variants,
                              [self._colors[p] for p in matched])
        n_matches = len({products[p].group_id if query.collapse_variants else products[p].id for p in matched})
        if query.sort != "relevance":
            order = sort_rows(matching, products, positions, query.sort)
        if query.out_of_stock_last:
            # Sorted by price or rating, sold-out items go last; by relevance, within a band.
            band = self.budgets.out_of_stock_band if query.sort == "relevance" else 1.0
            order = demote_out_of_stock(order, scores, self.extractor.in_stock[positions], band)
        # Matches first; the rest (dense neighbours of nothing the query asked for) fill the page after
        # them. Only a photo's matches can trail in the ranking: elsewhere they are its head already.
        is_match = np.zeros(len(positions), bool)
        is_match[matching] = True
        order = np.concatenate([order[is_match[order]], order[~is_match[order]]])
        hits, rows = self.page(state, order, is_match)
        if query.explain and hits:
            self.explain(hits, rows, batch, state.ranker, state.reranked)
        if state.moved_by:
            note_rules(hits, [self.art.catalog.position(h.product.id) for h in hits], state.moved_by, query.explain)
        personal = state.personal
        did_you_mean, auto_corrected = state.plan.did_you_mean
        state.result = SearchResult(
            hits, state.plan.parsed, len(positions), state.fusion, sorted(state.runs), {}, state.plan.photo_labels,
            facets, n_matches, personalized=personal is not None and personal.profile.n_events > 0,
            profile_events=personal.profile.n_events if personal is not None else 0,
            rewrites=list(state.plan.rewrites), query_text=state.plan.text, did_you_mean=did_you_mean,
            auto_corrected=auto_corrected)

    def matching(self, runs: dict[str, Run], positions: np.ndarray, order: np.ndarray, sort: str) -> np.ndarray:
        """Rows (in rank order) that count as matching the query: what the facets count and a
        sort lists.

        Dense retrievers return something for any query, so sorting every candidate by price
        would surface the cheapest unrelated item: a sort lists the keyword matches. In relevance
        order the set is the ranking down to its last keyword match: what the ranker puts above a
        keyword match is no filler (a messenger bag for "red backpack" ranks above a red shirt that
        matched "red"), and moving keyword matches above it lost relevance. For a photo, the
        products before the cliff in its similarities (:func:`score_cliff`); otherwise the
        ``facet_k`` best ranked."""
        if not runs:
            return order

        def found(run: Run) -> np.ndarray:  # per row of ``order``: is its product in ``run``
            return np.isin(positions[order], np.fromiter((pos for pos, _ in run), np.int64, len(run)))

        run = runs.get("bm25")
        if run:
            keyword = found(run)
            if sort != "relevance":
                return order[keyword]
            return order[: int(np.flatnonzero(keyword)[-1]) + 1] if keyword.any() else order[:0]
        photo = next((runs[name] for name in _PHOTO_RETRIEVERS if name in runs), None)
        if photo is None:
            return order[: self.budgets.facet_k]
        top = photo[: self.budgets.facet_k]
        return order[found(top[: score_cliff([s for _, s in top], self.budgets.match_drop)])]

    def page(self, state: SearchState, order: np.ndarray, is_match: np.ndarray) -> tuple[list[Hit], list[int]]:
        """The ``k`` hits in ``order``, variants collapsed, hidden products left out and pinned
        ones at their slots; with the batch row of each (-1: pinned from outside the candidates)."""
        query, positions, scores = state.query, state.batch.positions, state.scores
        products = self.art.catalog.products
        ranks = {name: {pos: r for r, (pos, _) in enumerate(run, 1)} for name, run in state.runs.items()}
        pinned = {pos for pos in state.pins if self.art.catalog.is_live(pos) and pos not in state.hidden}
        slots = sum(1 for pos in pinned if state.pins[pos] < query.k)
        hits: list[Hit] = []
        rows: list[int] = []
        seen_groups: set[str] = {products[p].group_id for p in pinned} if query.collapse_variants else set()
        for i in order:
            if len(hits) >= query.k - slots:
                break
            pos = int(positions[i])
            p = products[pos]
            if pos in state.hidden or pos in pinned:
                continue
            if query.collapse_variants:
                if p.group_id in seen_groups:
                    continue
                seen_groups.add(p.group_id)
            hits.append(Hit(product=p, score=float(scores[i]), match=bool(is_match[i]),
                            retrievers={name: r[pos] for name, r in ranks.items() if pos in r}))
            rows.append(int(i))
        row_of = {int(pos): i for i, pos in enumerate(positions)}
        for pos in sorted(pinned, key=lambda p: state.pins[p]):
            slot = min(state.pins[pos], len(hits))
            if slot >= query.k:
                continue
            i = row_of.get(pos, -1)
            score = float(scores[i]) if i >= 0 else (hits[slot].score if slot < len(hits) else 0.0)
            hits.insert(slot, Hit(product=products[pos], score=score, match=True, pinned=True,
                                  retrievers={name: r[pos] for name, r in ranks.items() if pos in r}))
            rows.insert(slot, i)
        for hit in hits:  # "frame at 0:07 matched your photo"
            if hit.product.video_frames:
                hit.video = video_moment(self.art, self.art.catalog.position(hit.product.id),
                                         state.batch.query_vectors, hit.retrievers)
        return hits, rows

    def explain(self, hits: list[Hit], rows: list[int], batch: CandidateBatch, ranker: Ranker,
                reranked: Reranked | None = None) -> None:
        # Only the returned hits are explained: for tree models that is most of the cost.
        shown = [(hit, i) for hit, i in zip(hits, rows, strict=True) if i >= 0]  # pinned from outside: nothing
        if not shown:
            return
        names = ranker.explained_names(batch)  # the batch's columns, then any the ranker read at its fallback
        contrib = ranker.explain(batch, [i for _, i in shown])
        base = ranker.base_score()
        weights = ranker.modality_weights(batch, [i for _, i in shown])
        for (hit, i), row, w in zip(shown, contrib, weights, strict=True):
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
        mine = [(hit, at[i]) for hit, i in shown if i in at]
        explained = self.reranker.explain(reranked.X[[j for _, j in mine]]) if self.reranker and mine else []
        for (hit, j), parts in zip(mine, explained):
            hit.features["cross_encoder"] = float(reranked.ce[j])
            hit.contributions = {n: v for n, v in parts.items() if v != 0}
        for hit, i in shown:
            if i not in at and reranked.shift:
                hit.contributions["rerank_shift"] = reranked.shift
