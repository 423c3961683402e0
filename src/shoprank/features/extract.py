"""Compute the feature matrix for (query, candidate) pairs, one column per declared feature.

Only the candidates' rows are touched: per-product values are precomputed once per index,
dense cosines read just the candidates' vectors.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property

import numpy as np

from shoprank.features.registry import FEATURE_NAMES, FEATURES, PERSONAL_FEATURES, Feature
from shoprank.features.title_match import PREFIX, TrigramMatrix, numbers, prefixes, words
from shoprank.index.analysis import stemmed_terms
from shoprank.index.artifacts import IndexArtifacts
from shoprank.personalization.signals import ItemSignals, PersonalContext
from shoprank.query.parse import ParsedQuery
from shoprank.query.plan import QueryPlan
from shoprank.types import Product


class FeatureContext:
    """One query's candidates and everything a feature's computation may read.

    Work shared by several features (BM25 per field, the personalization columns) is done
    once, on first use."""

    def __init__(self, ex: FeatureExtractor, plan: QueryPlan, cands: np.ndarray, fused: Mapping[int, float],
                 personal: PersonalContext | None):
        self.ex, self.plan, self.cands, self.fused, self.context = ex, plan, cands, fused, personal
        self.rows: list[int] = cands.tolist()  # Python ints: per-candidate loops index lists and dicts by them
        self.parsed = plan.parsed or ParsedQuery(text="")

    @cached_property
    def _field_scores(self) -> dict[str, dict[int, float]]:
        return self.ex.art.lexical.field_scores(self.plan.text, self.rows) if self.plan.text else {}

    @cached_property
    def _qterms(self) -> set[str]:
        return set(self.plan.terms)

    @cached_property
    def _personal(self) -> dict[str, np.ndarray]:
        p = self.context
        if p is None or not p.profile.n_events:
            return {}
        return self.ex.signals.columns(p.profile, self.cands, p.recommender)

    def _array(self, values: Sequence[float] | np.ndarray) -> np.ndarray:
        return np.asarray(values, np.float32).reshape(len(self.cands))

    def bm25(self, field: str) -> np.ndarray:
        sc = self._field_scores.get(field, {})
        return self._array([sc.get(c, 0.0) for c in self.rows])

    def coverage(self, field: str) -> np.ndarray:
        terms = self.ex.title_terms if field == "title" else self.ex.desc_terms
        n = max(len(self._qterms), 1)
        q = self._qterms
        return self._array([len(q & terms[c]) / n for c in self.rows])

    def title_phrase(self) -> np.ndarray:
        phrase = (self.plan.text or "").strip().lower()
        if not phrase:
            return np.zeros(len(self.rows), np.float32)
        titles = self.ex.titles
        return self._array([phrase in titles[c] for c in self.rows])

    @cached_property
    def _qwords(self) -> list[str]:
        return words(self.plan.text or "")

    def title_prefix_cover(self) -> np.ndarray:
        qp = [w[:PREFIX] for w in self._qwords]
        if not qp:
            return np.zeros(len(self.rows), np.float32)
        pre = self.ex.title_prefixes
        return self._array([sum(p in pre[c] for p in qp) / len(qp) for c in self.rows])

    def title_numbers(self) -> np.ndarray:
        qn = numbers(self._qwords)
        if not qn:
            return np.zeros(len(self.rows), np.float32)
        nums = self.ex.title_numbers
        return self._array([len(qn & nums[c]) / len(qn) for c in self.rows])

    @cached_property
    def _trigram_cos(self) -> np.ndarray:
        return self.ex.title_trigrams.cosine(self.plan.text or "", self.cands)

    def title_trigram_cos(self) -> np.ndarray:
        return self._trigram_cos

    def title_trigram_gap(self) -> np.ndarray:
        cos = self._trigram_cos
        return cos - cos.max() if len(cos) else cos

    def typo_edits(self) -> np.ndarray:
        return np.full(len(self.cands), self.plan.typo_edits, np.float32)

    def query_terms(self) -> np.ndarray:
        return np.full(len(self.cands), len(self._qterms), np.float32)

    def cosine(self, modality: str, query_key: str, joint_only: bool = False) -> np.ndarray:
        mod = self.ex.art.modalities.get(modality)
        vec = self.plan.vectors.get(query_key)
        if vec is None or mod is None or (joint_only and not self.ex.art.joint):
            return np.zeros(len(self.cands), np.float32)
        return mod.cosine_for(vec, self.cands)

    def fused_score(self) -> np.ndarray:
        return self._array([self.fused.get(c, 0.0) for c in self.rows])

    def static(self, name: str) -> np.ndarray:
        return self.ex.static[name][self.cands]

    def match(self, what: str) -> np.ndarray:
        """+1 the query asks for ``what`` and the product offers it, -1 offers only others, 0 not asked."""
        pq, s = self.parsed, self.ex.signals
        asked: Sequence[str]
        offered: list[set[str]]
        if what == "types":
            asked, offered = pq.types, s.types
        elif what == "colors":
            asked, offered = pq.colors, s.colors
        elif what == "genders":
            asked, offered = ([pq.gender] if pq.gender else []), s.genders
        else:
            asked, offered = pq.sizes, self.ex.sizes
        if not asked:
            return np.zeros(len(self.cands), np.float32)
        return self._array([0.0 if not offered[c] else 1.0 if offered[c].intersection(asked) else -1.0
                            for c in self.rows])

    def price_fit(self) -> np.ndarray:
        pq = self.parsed
        if pq.price_min is None and pq.price_max is None:
            return np.zeros(len(self.cands), np.float32)
        prices = self.ex.prices[self.cands]
        lo = -np.inf if pq.price_min is None else pq.price_min
        hi = np.inf if pq.price_max is None else pq.price_max
        return np.where(np.isnan(prices), 0.0, np.where((prices >= lo) & (prices <= hi), 1.0, -1.0)).astype(np.float32)

    def personal(self, name: str) -> np.ndarray:
        col = self._personal.get(name)
        return np.zeros(len(self.cands), np.float32) if col is None else col


_FLOAT32_SAFE = 1e30


def _log1p32(x: float) -> float:
    """log1p in float32, as the columns are stored (the same numbers as when built in one array).
    Validation bounds the inputs; a number past float32 (a product made without validation)
    is clipped, never infinity: one infinite feature makes the score NaN."""
    return float(np.log1p(np.float32(min(max(x, 0.0), _FLOAT32_SAFE)))) if math.isfinite(x) else 0.0

# Per-product numbers the ranker reads as they are.
_STATIC: dict[str, Callable[[Product], float]] = {
    "price_log": lambda p: _log1p32(p.price or 0.0),
    "rating": lambda p: p.rating or 0.0,
    "review_count_log": lambda p: _log1p32(p.review_count),
    "sales_log": lambda p: _log1p32(p.sales),
    "has_image": lambda p: 1.0 if p.images else 0.0,
    "title_words": lambda p: float(len(words(p.title))),
}


class FeatureExtractor:
    """Builds rows in :data:`FEATURE_NAMES` order. Per-product columns are precomputed once, and
    kept current as a :class:`~shoprank.index.state.ProductState` (with its :class:`ItemSignals`)."""

    names: list[str] = FEATURE_NAMES
    features: tuple[Feature, ...] = FEATURES

    def __init__(self, artifacts: IndexArtifacts, signals: ItemSignals | None = None):
        self.art = artifacts
        self.signals = signals or ItemSignals(artifacts)
        self.n = 0
        self.static: dict[str, np.ndarray] = {name: np.zeros(0, np.float32) for name in _STATIC}
        self.title_terms: list[set[str]] = []
        self.desc_terms: list[set[str]] = []
        self.titles: list[str] = []
        self.title_prefixes: list[frozenset[str]] = []
        self.title_numbers: list[frozenset[str]] = []
        self.title_trigrams = TrigramMatrix()
        self.sizes: list[set[str]] = []
        self.prices = np.zeros(0, np.float64)
        self.in_stock = np.zeros(0, bool)  # can be bought now (not a feature: ordering and filters read it)
        self._columns(artifacts.catalog.products)  # the signals took the catalog in already

    def extend(self, products: Sequence[Product]) -> None:
        """Take in ``products`` at the next positions, here and in the signals (appended lists,
        new arrays: a search in flight keeps reading what it has)."""
        self.signals.extend(products)
        self._columns(products)

    def _columns(self, products: Sequence[Product]) -> None:
        self.static = {name: np.concatenate([self.static[name], np.array([f(p) for p in products], np.float32)])
                       for name, f in _STATIC.items()}
        self.title_terms += [set(stemmed_terms(p.title)) for p in products]
        self.desc_terms += [set(stemmed_terms(p.description[:2000])) for p in products]
        self.titles += [p.title.lower() for p in products]
        title_words = [words(p.title) for p in products]
        self.title_prefixes += [prefixes(ws) for ws in title_words]
        self.title_numbers += [numbers(ws) for ws in title_words]
        self.title_trigrams.extend([p.title for p in products])
        self.sizes += [{s.upper() for s in p.attr("size")} for p in products]
        self.prices = np.concatenate([self.prices, [np.nan if p.price is None else p.price for p in products]])
        self.in_stock = np.concatenate([self.in_stock, np.array([p.in_stock for p in products], bool)])
        self.n = len(self.titles)

    def refresh(self, positions: Sequence[int]) -> None:
        """The products at ``positions`` changed price, rating, sales or stock (their indexed content is the same)."""
        for pos in positions:
            p = self.art.catalog.products[pos]
            for name, f in _STATIC.items():
                self.static[name][pos] = f(p)
            self.prices[pos] = np.nan if p.price is None else p.price
            self.in_stock[pos] = p.in_stock
        self.signals.refresh(positions)

    def drop(self, positions: Sequence[int]) -> None:
        """Nothing: candidates are live positions only."""
        self.signals.drop(positions)

    def extract(self, plan: QueryPlan, candidates: Sequence[int], fused: Mapping[int, float],
                personal: PersonalContext | None = None) -> np.ndarray:
        cands = np.asarray(candidates, dtype=np.int64)
        if not len(cands):
            return np.zeros((0, len(self.features)), np.float32)
        ctx = FeatureContext(self, plan, cands, fused, personal)
        return np.stack([f.compute(ctx) for f in self.features], axis=1).astype(np.float32, copy=False)


__all__ = ["PERSONAL_FEATURES", "FeatureContext", "FeatureExtractor"]
