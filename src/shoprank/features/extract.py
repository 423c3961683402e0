"""Compute the feature matrix for (query, candidate) pairs."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from shoprank.features.query_parse import ParsedQuery
from shoprank.features.registry import FEATURE_NAMES, PERSONAL_FEATURES
from shoprank.index.analysis import stemmed_terms
from shoprank.index.artifacts import IndexArtifacts
from shoprank.personalization.signals import ItemSignals, PersonalContext
from shoprank.retrieval.hybrid import QueryEncoding


class FeatureExtractor:
    """Builds rows in :data:`FEATURE_NAMES` order. Per-product columns are precomputed once."""

    names: list[str] = FEATURE_NAMES

    def __init__(self, artifacts: IndexArtifacts):
        self.art = artifacts
        self.signals = ItemSignals(artifacts)
        products = artifacts.catalog.products
        n = len(products)
        self._static = {
            "price_log": np.log1p(np.array([p.price or 0.0 for p in products], np.float32)),
            "rating": np.array([p.rating or 0.0 for p in products], np.float32),
            "review_count_log": np.log1p(np.array([p.review_count for p in products], np.float32)),
            "sales_log": np.log1p(np.array([p.sales for p in products], np.float32)),
            "has_image": np.array([1.0 if p.images else 0.0 for p in products], np.float32),
        }
        self._title_terms = [set(stemmed_terms(p.title)) for p in products]
        self._desc_terms = [set(stemmed_terms(p.description[:2000])) for p in products]
        self._titles = [p.title.lower() for p in products]
        self._sizes = [{s.upper() for s in p.attr("size")} for p in products]
        self._prices = np.array([np.nan if p.price is None else p.price for p in products], np.float64)
        self._n = n

    def _dense(self, modality: str, vec: np.ndarray | None, cands: np.ndarray) -> np.ndarray:
        mod = self.art.modalities.get(modality)
        if vec is None or mod is None:
            return np.zeros(len(cands), np.float32)
        return mod.cosine_per_product(vec, self._n)[cands]

    @staticmethod
    def _match(asked: Sequence[str], offered: set[str]) -> float:
        if not asked or not offered:
            return 0.0
        return 1.0 if offered.intersection(asked) else -1.0

    def extract(self, q: QueryEncoding, parsed: ParsedQuery | None, candidates: Sequence[int],
                fused: Mapping[int, float], personal: PersonalContext | None = None) -> np.ndarray:
        cands = np.asarray(candidates, dtype=np.int64)
        cols: dict[str, np.ndarray] = {}
        field_scores = self.art.lexical.field_scores(q.text, list(map(int, cands))) if q.text else {}
        for f in ("title", "description", "category", "attributes", "reviews"):
            sc = field_scores.get(f, {})
            cols[f"bm25_{f}"] = np.array([sc.get(int(c), 0.0) for c in cands], np.float32)
        qterms = set(stemmed_terms(q.text or ""))
        n_terms = max(len(qterms), 1)
        cols["title_coverage"] = np.array([len(qterms & self._title_terms[c]) / n_terms for c in cands], np.float32)
        cols["description_coverage"] = np.array(
            [len(qterms & self._desc_terms[c]) / n_terms for c in cands], np.float32)
        phrase = (q.text or "").strip().lower()
        cols["title_phrase"] = np.array([1.0 if phrase and phrase in self._titles[c] else 0.0 for c in cands],
                                        np.float32)
        cols["query_terms"] = np.full(len(cands), len(qterms), np.float32)
        cols["cos_text"] = self._dense("text", q.text_vec, cands)
        cols["cos_label"] = self._dense("label", q.text_vec, cands)
        cols["cos_review"] = self._dense("review", q.text_vec, cands)
        cols["cos_image"] = self._dense("image", q.photo_vec, cands)
        cols["cos_photo_text"] = self._dense("text", q.photo_label_vec, cands)
        cols["cos_color"] = self._dense("color", q.photo_color_vec, cands)
        cols["rrf"] = np.array([fused.get(int(c), 0.0) for c in cands], np.float32)
        for name, arr in self._static.items():
            cols[name] = arr[cands]
        pq = parsed or ParsedQuery(text="")
        cols["color_match"] = np.array([self._match(pq.colors, self.signals.colors[c]) for c in cands], np.float32)
        cols["size_match"] = np.array([self._match(pq.sizes, self._sizes[c]) for c in cands], np.float32)
        cols["type_match"] = np.array([self._match(pq.types, self.signals.types[c]) for c in cands], np.float32)
        cols["gender_match"] = np.array(
            [self._match([pq.gender] if pq.gender else [], self.signals.genders[c]) for c in cands], np.float32)
        if pq.price_min is None and pq.price_max is None:
            cols["price_fit"] = np.zeros(len(cands), np.float32)
        else:
            prices = self._prices[cands]
            lo = -np.inf if pq.price_min is None else pq.price_min
            hi = np.inf if pq.price_max is None else pq.price_max
            cols["price_fit"] = np.where(np.isnan(prices), 0.0, np.where((prices >= lo) & (prices <= hi), 1.0, -1.0)
                                         ).astype(np.float32)
        if personal is not None and personal.profile.n_events:
            cols.update(self.signals.columns(personal.profile, cands, personal.recommender))
        else:
            cols.update({name: np.zeros(len(cands), np.float32) for name in PERSONAL_FEATURES})
        return np.stack([cols[name] for name in self.names], axis=1) if len(cands) else \
            np.zeros((0, len(self.names)), np.float32)
