"""What an item tells a profile, and what a profile says about a candidate.

:class:`ItemSignals` precomputes, per catalog position, the facet keys an event on the
item adds to a profile (category path levels, colour, gender, type, price band, material)
and the item's embedding per modality. The same keys score candidates at query time, so
a click on red women's pants lifts red items, women's items and pants in the next search.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from shoprank.catalog.vocabulary import product_colors, product_genders, product_types
from shoprank.index.artifacts import IndexArtifacts
from shoprank.modalities import MODALITIES
from shoprank.personalization.profile import Profile, shares
from shoprank.types import Product

if TYPE_CHECKING:
    from shoprank.personalization.collaborative import Recommender

# Modalities whose item embeddings make up a profile's taste vectors.
PROFILE_MODALITIES: tuple[str, ...] = tuple(m.name for m in MODALITIES if m.taste_weight is not None)
PRICE_BANDS = 5
_FACET_ATTRIBUTES = ("material", "pattern", "activity")


def _price_edges(products: Sequence[Product]) -> np.ndarray:
    prices = np.array([p.price for p in products if p.price is not None], np.float64)
    if len(prices) == 0:
        return np.array([], np.float64)
    return np.unique(np.quantile(prices, np.linspace(0, 1, PRICE_BANDS + 1)[1:-1]))


@dataclass(frozen=True)
class PersonalContext:
    """What personalizes one search: the shopper's profile and the collaborative model."""

    profile: Profile
    recommender: Recommender | None = None


class ItemSignals:
    """Per-item facet keys and modality vectors over one built index, kept current as a
    :class:`~shoprank.index.state.ProductState`."""

    def __init__(self, artifacts: IndexArtifacts):
        self.art = artifacts
        products = artifacts.catalog.products
        self.n = 0
        self.ids: list[str] = []
        self.price_edges = _price_edges(products)  # bands stay as built until the next rebuild
        self.price_band = np.zeros(0, np.int64)
        self._categories: list[list[list[str]]] = []
        # Per product, read once: the feature extractor's query-match features use them too.
        self.colors: list[set[str]] = []
        self.genders: list[set[str]] = []
        self.types: list[set[str]] = []
        self._attrs: list[list[str]] = []
        self._rows: dict[str, np.ndarray] = {}
        self.extend(products)

    def _band(self, p: Product) -> int:
        return -1 if p.price is None else int(np.searchsorted(self.price_edges, p.price, side="right"))

    def extend(self, products: Sequence[Product]) -> None:
        """Take in ``products`` at the next positions (appended lists, new arrays: a search in
        flight keeps reading what it has). The modalities must hold their rows already."""
        self.ids += [p.id for p in products]
        self._categories += [self._category_keys(p) for p in products]
        self.colors += [product_colors(p) for p in products]
        self.genders += [product_genders(p) for p in products]
        self.types += [product_types(p) for p in products]
        self._attrs += [[f"{a}:{v.lower()}" for a in _FACET_ATTRIBUTES for v in p.attr(a)] for p in products]
        self.price_band = np.concatenate([self.price_band, np.array([self._band(p) for p in products], np.int64)])
        self.n = len(self.ids)
        # First row of each modality per product: the item's main photo / its text.
        rows: dict[str, np.ndarray] = {}
        for mod in PROFILE_MODALITIES:
            m = self.art.modalities.get(mod)
            if m is not None and len(m.vectors):
                rows[mod] = m.first_rows(np.arange(self.n))
        self._rows = rows

    def refresh(self, positions: Sequence[int]) -> None:
        """The products at ``positions`` changed price (their indexed content is the same)."""
        for pos in positions:
            self.price_band[pos] = self._band(self.art.catalog.products[pos])

    def drop(self, positions: Sequence[int]) -> None:
        """Nothing: events and candidates name live products only."""

    @staticmethod
    def _category_keys(p: Product) -> list[list[str]]:
        """Per category path, its levels as keys: Women, Women/Bottoms, Women/Bottoms/Pants."""
        out = []
        for path in p.categories[:1]:  # the primary path; secondary paths are often promotions
            parts = [x for x in path.split("/") if x]
            out.append([f"category:{'/'.join(parts[: i + 1])}" for i in range(len(parts))])
        return out

    # -- what an event on ``pos`` adds to a profile -----------------------------------------
    def facets(self, pos: int) -> list[str]:
        keys = [k for levels in self._categories[pos] for k in levels]
        keys += [f"color:{c}" for c in sorted(self.colors[pos])]
        keys += [f"gender:{g}" for g in sorted(self.genders[pos])]
        keys += [f"type:{t}" for t in sorted(self.types[pos])]
        keys += self._attrs[pos]
        if self.price_band[pos] >= 0:
            keys.append(f"price:{self.price_band[pos]}")
        return keys

    def vectors(self, pos: int) -> dict[str, np.ndarray]:
        out = {}
        for mod, rows in self._rows.items():
            if rows[pos] >= 0:
                out[mod] = self.art.modalities[mod].vectors[rows[pos]]
        return out

    # -- what a profile says about candidates ----------------------------------------------------
    def columns(self, profile: Profile, cands: np.ndarray,
                recommender: Recommender | None = None) -> dict[str, np.ndarray]:
        """The personalization feature columns (see the registry) for candidate positions."""
        n = len(cands)
        cols: dict[str, np.ndarray] = {}
        colors, genders = profile.affinity_share("color:"), profile.affinity_share("gender:")
        prices = profile.affinity_share("price:")
        # Category shares per depth, so "Women" and "Women/Bottoms/Pants" are each judged
        # against their own level.
        cats: dict[int, dict[str, float]] = {}
        for k, v in profile.affinity.items():
            if k.startswith("category:"):
                cats.setdefault(k.count("/"), {})[k] = v
        for d, fam in cats.items():
            cats[d] = shares(fam)

        def category_score(pos: int) -> float:
            best = 0.0
            for levels in self._categories[pos]:
                shares = [cats.get(d, {}).get(k, 0.0) for d, k in enumerate(levels)]
                best = max(best, sum(shares) / len(shares) if shares else 0.0)
            return best

        cols["user_category"] = np.array([category_score(int(c)) for c in cands], np.float32)
        cols["user_color"] = np.array([max((colors.get(f"color:{x}", 0.0) for x in self.colors[c]), default=0.0)
                                       for c in cands], np.float32)
        cols["user_gender"] = np.array([max((genders.get(f"gender:{x}", 0.0) for x in self.genders[c]),
                                            default=0.0) for c in cands], np.float32)
        # A neighbouring price band earns half: tastes in price are not sharp edges.
        band = self.price_band[cands]
        cols["user_price"] = np.array(
            [0.0 if b < 0 else prices.get(f"price:{b}", 0.0) + 0.5 * (prices.get(f"price:{b - 1}", 0.0)
                                                                     + prices.get(f"price:{b + 1}", 0.0))
             for b in band], np.float32)
        for mod in PROFILE_MODALITIES:
            cols[f"user_{mod}"] = self._taste_cosine(profile, mod, cands)
        if recommender is not None and profile.recent:
            cols["cf_score"] = np.asarray(recommender.score(profile.history(), [self.ids[int(c)] for c in cands]),
                                          np.float32)
        else:
            cols["cf_score"] = np.zeros(n, np.float32)
        return cols

    def _taste_cosine(self, profile: Profile, mod: str, cands: np.ndarray) -> np.ndarray:
        taste = profile.vectors.get(mod)
        rows = self._rows.get(mod)
        out = np.zeros(len(cands), np.float32)
        if taste is None or rows is None:
            return out
        taste = np.asarray(taste, np.float64)
        norm = float(np.linalg.norm(taste))
        if not (norm > 1e-12 and math.isfinite(norm)):  # nothing left of the taste, or a broken one
            return out
        r = rows[cands]
        ok = r >= 0
        out[ok] = self.art.modalities[mod].vectors[r[ok]] @ (taste / norm).astype(np.float32)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
