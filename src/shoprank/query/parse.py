"""Pull product types, colours, sizes, gender and price limits out of English and Chinese queries."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from shoprank.catalog.vocabulary import COLORS, GENDERS, SIZES, find_types, has_word

_NUM = r"(\d+(?:\.\d+)?)"
_CJK = r"[\u4e00-\u9fff]"
# A currency unit after the number, kept in the match: it names the currency. 刀 and 块 are units
# only at a word's end ("100刀", "50块钱以下"), not inside a word ("低于100刀具" asks for knives).
_UNIT = (rf"(?:\s*(?:美元|人民币|元钱?|[$¥￥]|(?:刀|块)(?:钱|(?=以下|以内|之内|以上|左右|的)|(?!{_CJK}))"
         r"|(?:usd|dollars?|bucks?|rmb|cny|yuan)\b))?")
_PREFIX = r"[$¥￥]?\s*"  # "$50", "¥50"
_PRICE_MAX = [rf"(?:under|below|less than|cheaper than|up to|max|at most|<=?)\s*{_PREFIX}{_NUM}{_UNIT}",
              rf"{_PREFIX}{_NUM}{_UNIT}\s*(?:以下|以内|之内)", rf"(?:低于|不超过|少于|小于)\s*{_PREFIX}{_NUM}{_UNIT}"]
_PRICE_MIN = [rf"(?:over|above|more than|at least|from|>=?)\s*{_PREFIX}{_NUM}{_UNIT}",
              rf"{_PREFIX}{_NUM}{_UNIT}\s*以上", rf"(?:高于|超过|大于)\s*{_PREFIX}{_NUM}{_UNIT}"]
# Not inside a model number or code ("W11-2285", "2x4-8"): a range starts and ends at a number's edge.
_PRICE_RANGE = [rf"(?:between\s*)?(?<![a-z0-9.\-])[$¥￥]?{_NUM}{_UNIT}\s*(?:-|to|and|~|到|至)\s*[$¥￥]?{_NUM}"
                rf"{_UNIT}(?![a-z0-9\-]|\.\d)"]


# The currency a price phrase names, by its words: US dollars first, since 美元 contains 元. The
# phrase's other words ("under", "低于") hold none of these.
_CURRENCY_WORDS = (("USD", ("$", "美元", "刀", "dollar", "usd", "buck")),
                   ("CNY", ("元", "块", "人民币", "rmb", "cny", "yuan", "¥", "￥")))


def _named_currency(phrase: str) -> str | None:
    return next((cur for cur, words in _CURRENCY_WORDS if any(w in phrase for w in words)), None)


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
    # A price phrase in another currency than the catalog's, not applied: what and why.
    price_note: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.colors or self.sizes or self.gender or self.types or self.price_min is not None
                    or self.price_max is not None)


def parse_query(text: str, currency: str = "USD") -> ParsedQuery:
    """What ``text`` asks for. Prices are in ``currency`` (the catalog's): a limit named in
    another ("50元以下" in a USD catalog) is not applied, and ``price_note`` says so, since no
    exchange rate is kept."""
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
            if _applies(pq, m, currency):
                pq.price_min, pq.price_max = sorted((float(m.group(1)), float(m.group(2))))
            return pq
    for pattern, bound in ((_PRICE_MAX, "price_max"), (_PRICE_MIN, "price_min")):
        for pat in pattern:
            m = re.search(pat, t)
            if m:
                if _applies(pq, m, currency):
                    setattr(pq, bound, float(m.group(1)))
                break
    return pq


def _applies(pq: ParsedQuery, m: re.Match[str], currency: str) -> bool:
    named = _named_currency(m.group(0))
    if named is None or named == currency.upper():
        return True
    pq.price_note = f"{m.group(0).strip()}: no price limit applied, prices are in {currency.upper()}"
    return False
