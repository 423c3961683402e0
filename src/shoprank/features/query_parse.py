"""Pull product types, colours, sizes, gender and price limits out of English and Chinese queries."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from shoprank.catalog.vocabulary import COLORS, GENDERS, SIZES, find_types, has_word

_NUM = r"(\d+(?:\.\d+)?)"
_PRICE_MAX = [rf"(?:under|below|less than|cheaper than|up to|max|at most|<=?)\s*\$?\s*{_NUM}",
              rf"{_NUM}\s*(?:元|块|美元|刀)?\s*(?:以下|以内|之内)", rf"(?:低于|不超过|少于|小于)\s*{_NUM}"]
_PRICE_MIN = [rf"(?:over|above|more than|at least|from|>=?)\s*\$?\s*{_NUM}",
              rf"{_NUM}\s*(?:元|块|美元|刀)?\s*以上", rf"(?:高于|超过|大于)\s*{_NUM}"]
# Not inside a model number or code ("W11-2285", "2x4-8"): a range starts and ends at a number's edge.
_PRICE_RANGE = [rf"(?:between\s*)?(?<![a-z0-9.\-])\$?{_NUM}\s*(?:-|to|and|~|到|至)\s*\$?{_NUM}"
                rf"(?:\s*(?:元|dollars|usd))?(?![a-z0-9\-]|\.\d)"]


@dataclass
class ParsedQuery:
    """What the shopper asked for beyond keywords. Shown back to them, and used as features."""

    text: str
    colors: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    gender: str | None = None
    price_min: float | None = None
    price_max: float | None = None
    types: list[str] = field(default_factory=list)  # product types: "pants", "bag", ...

    @property
    def empty(self) -> bool:
        return not (self.colors or self.sizes or self.gender or self.types or self.price_min is not None
                    or self.price_max is not None)


def parse_query(text: str) -> ParsedQuery:
    t = text.lower()
    pq = ParsedQuery(text=text)
    pq.types = find_types(t)
    pq.colors = [c for c, words in COLORS.items() if any(has_word(t, w) for w in words)]
    # Single letters only count when written as sizes ("size M", or a capital S/M/L token).
    pq.sizes = [s for s, words in SIZES.items() if any(has_word(t, w) for w in words)
                or re.search(rf"\bsize\s+{s.lower()}\b", t) or re.search(rf"(?<!\w){s}(?!\w)", text) and len(s) > 1]
    # "women" contains "men": test women first and stop at the first gender found.
    for g, words in GENDERS.items():
        if any(has_word(t, w) for w in words):
            pq.gender = g
            break
    for pat in _PRICE_RANGE:
        m = re.search(pat, t)
        if m:
            lo, hi = sorted((float(m.group(1)), float(m.group(2))))
            pq.price_min, pq.price_max = lo, hi
            return pq
    for pat in _PRICE_MAX:
        m = re.search(pat, t)
        if m:
            pq.price_max = float(m.group(1))
            break
    for pat in _PRICE_MIN:
        m = re.search(pat, t)
        if m:
            pq.price_min = float(m.group(1))
            break
    return pq
