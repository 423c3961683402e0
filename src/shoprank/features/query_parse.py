"""Pull colour, size, gender and price limits out of English and Chinese queries."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

COLORS: dict[str, tuple[str, ...]] = {
    "black": ("black", "黑色", "黑"), "white": ("white", "白色", "白"), "gray": ("gray", "grey", "灰色", "灰"),
    "red": ("red", "红色", "红"), "blue": ("blue", "navy", "蓝色", "蓝"), "green": ("green", "绿色", "绿"),
    "yellow": ("yellow", "黄色", "黄"), "orange": ("orange", "橙色", "橙"), "purple": ("purple", "violet", "紫色", "紫"),
    "pink": ("pink", "粉色", "粉红"), "brown": ("brown", "棕色", "咖啡色"), "beige": ("beige", "米色"),
    "silver": ("silver", "银色"), "gold": ("gold", "金色"), "lavender": ("lavender", "淡紫色"),
}
SIZES: dict[str, tuple[str, ...]] = {
    "XS": ("xs", "extra small", "x-small"), "S": ("small",), "M": ("medium",), "L": ("large",),
    "XL": ("xl", "extra large", "x-large"), "XXL": ("xxl", "2xl"),
}
GENDERS: dict[str, tuple[str, ...]] = {
    "women": ("women", "womens", "women's", "woman", "ladies", "female", "girls", "女士", "女式", "女款", "女"),
    "men": ("men", "mens", "men's", "man", "male", "boys", "男士", "男式", "男款", "男"),
}
_NUM = r"(\d+(?:\.\d+)?)"
_PRICE_MAX = [rf"(?:under|below|less than|cheaper than|up to|max|at most|<=?)\s*\$?\s*{_NUM}",
              rf"{_NUM}\s*(?:元|块|美元|刀)?\s*(?:以下|以内|之内)", rf"(?:低于|不超过|少于|小于)\s*{_NUM}"]
_PRICE_MIN = [rf"(?:over|above|more than|at least|from|>=?)\s*\$?\s*{_NUM}",
              rf"{_NUM}\s*(?:元|块|美元|刀)?\s*以上", rf"(?:高于|超过|大于)\s*{_NUM}"]
_PRICE_RANGE = [rf"(?:between\s*)?\$?{_NUM}\s*(?:-|to|and|~|到|至)\s*\$?{_NUM}\s*(?:元|dollars|usd)?"]


@dataclass
class ParsedQuery:
    """What the shopper asked for beyond keywords. Shown back to them, and used as features."""

    text: str
    colors: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    gender: str | None = None
    price_min: float | None = None
    price_max: float | None = None

    @property
    def empty(self) -> bool:
        return not (self.colors or self.sizes or self.gender or self.price_min is not None or self.price_max is not None)


def _has(text: str, word: str) -> bool:
    if re.search(r"[\u4e00-\u9fff]", word):
        return word in text
    return re.search(rf"(?<![\w']){re.escape(word)}(?![\w'])", text) is not None


def parse_query(text: str) -> ParsedQuery:
    t = text.lower()
    pq = ParsedQuery(text=text)
    pq.colors = [c for c, words in COLORS.items() if any(_has(t, w) for w in words)]
    # Single letters only count when written as sizes ("size M", or a capital S/M/L token).
    pq.sizes = [s for s, words in SIZES.items() if any(_has(t, w) for w in words)
                or re.search(rf"\bsize\s+{s.lower()}\b", t) or re.search(rf"(?<!\w){s}(?!\w)", text) and len(s) > 1]
    # "women" contains "men": test women first and stop at the first gender found.
    for g, words in GENDERS.items():
        if any(_has(t, w) for w in words):
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
