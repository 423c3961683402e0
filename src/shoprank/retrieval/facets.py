"""Facet counts over a result set: category, colour, price range, rating."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from shoprank.catalog.vocabulary import product_colors
from shoprank.types import Product

PRICE_BUCKETS: tuple[tuple[float, float | None], ...] = ((0, 25), (25, 50), (50, 100), (100, 200), (200, None))
RATING_STEPS: tuple[int, ...] = (4, 3, 2, 1)


@dataclass(frozen=True, slots=True)
class FacetValue:
    """One clickable facet value. ``min``/``max`` carry a range's bounds (price, rating)."""

    value: str
    count: int
    min: float | None = None
    max: float | None = None


def _price_label(lo: float, hi: float | None) -> str:
    return f"{lo:g}+" if hi is None else f"{lo:g}-{hi:g}"


def count_facets(products: Sequence[Product], collapse_variants: bool = True,
                 colors: Sequence[set[str]] | None = None) -> dict[str, list[FacetValue]]:
    """Count ``products`` per facet value. With ``collapse_variants`` a model with ten
    colour/size variants counts once per value, as the results page shows it once.
    ``colors[i]`` are product ``i``'s canonical colours when already known."""
    seen: dict[str, set[tuple[str, str]]] = {"category": set(), "color": set(), "price": set(), "rating": set()}
    counts: dict[str, Counter[str]] = {name: Counter() for name in seen}

    def add(facet: str, value: str, p: Product) -> None:
        key = (value, p.group_id if collapse_variants else p.id)
        if key not in seen[facet]:
            seen[facet].add(key)
            counts[facet][value] += 1

    for i, p in enumerate(products):
        if p.category:
            add("category", p.category, p)
        for c in product_colors(p) if colors is None else colors[i]:
            add("color", c, p)
        if p.price is not None:
            for lo, hi in PRICE_BUCKETS:
                if p.price >= lo and (hi is None or p.price < hi):
                    add("price", _price_label(lo, hi), p)
        if p.rating:
            for step in RATING_STEPS:
                if p.rating >= step:
                    add("rating", f"{step}+", p)
    out: dict[str, list[FacetValue]] = {
        "category": [FacetValue(v, n) for v, n in counts["category"].most_common()],
        "color": [FacetValue(v, n) for v, n in counts["color"].most_common()],
        # Buckets are [lo, hi) but price filters include their maximum: a facet's max stops a
        # cent short, so clicking "0-25" shows what "0-25" counted.
        "price": [FacetValue(_price_label(lo, hi), counts["price"][_price_label(lo, hi)], lo,
                             None if hi is None else hi - 0.01)
                  for lo, hi in PRICE_BUCKETS if counts["price"][_price_label(lo, hi)]],
        "rating": [FacetValue(f"{s}+", counts["rating"][f"{s}+"], float(s), 5.0)
                   for s in RATING_STEPS if counts["rating"][f"{s}+"]],
    }
    return out
