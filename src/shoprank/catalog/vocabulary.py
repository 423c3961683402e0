"""Words shoppers and catalogs use for colours, sizes, genders and product types (English and Chinese).

Query understanding reads queries with these tables; facets and ranking features read
products with the same tables, so "红色" in a query meets "Red" in a catalog.
"""
from __future__ import annotations

import functools
import re

from shoprank.types import Product

COLORS: dict[str, tuple[str, ...]] = {
    "black": ("black", "黑色", "黑"), "white": ("white", "白色", "白"), "gray": ("gray", "grey", "灰色", "灰"),
    "red": ("red", "红色", "红"), "blue": ("blue", "navy", "蓝色", "蓝"), "green": ("green", "绿色", "绿"),
    "yellow": ("yellow", "黄色", "黄"), "orange": ("orange", "橙色", "橙"),
    "purple": ("purple", "violet", "紫色", "紫"),
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
# Product types: English words are matched in a product's category path and title, and in
# queries; Chinese words only in queries. Longer words win ("短裤" is shorts, not "裤").
PRODUCT_TYPES: dict[str, tuple[str, ...]] = {
    "pants": ("pants", "pant", "trousers", "leggings", "legging", "tights", "joggers",
              "裤子", "长裤", "瑜伽裤", "打底裤", "紧身裤", "运动裤", "裤"),
    "shorts": ("shorts", "short", "短裤"),
    "jacket": ("jacket", "jackets", "coat", "coats", "外套", "夹克", "风衣"),
    "hoodie": ("hoodie", "hoodies", "sweatshirt", "sweatshirts", "卫衣", "连帽衫"),
    "tee": ("tee", "tees", "t-shirt", "t-shirts", "tshirt", "shirt", "t恤", "短袖", "衬衫"),
    "tank": ("tank", "tanks", "背心"),
    "bra": ("bra", "bras", "文胸", "运动内衣"),
    "bag": ("bag", "bags", "backpack", "backpacks", "tote", "duffle", "包", "背包", "双肩包", "书包", "手提包"),
    "watch": ("watch", "watches", "手表", "腕表", "表"),
    "bottle": ("bottle", "bottles", "水瓶", "水杯", "水壶"),
    "mug": ("mug", "mugs", "cup", "杯子", "咖啡杯", "马克杯"),
    "shoe": ("shoe", "shoes", "sneakers", "鞋", "跑鞋", "跑步鞋", "运动鞋"),
    "mat": ("mat", "瑜伽垫"),
}

_CJK = re.compile(r"[\u4e00-\u9fff]")
_COLOR_OF = {w: c for c, words in COLORS.items() for w in words}


def known_colors(colors: list[str]) -> list[str]:
    """``colors`` lower-cased, or ValueError naming any this vocabulary does not know (filters)."""
    colors = [c.strip().lower() for c in colors]
    unknown = [c for c in colors if c not in COLORS]
    if unknown:
        raise ValueError(f"unknown colour(s) {unknown}; known: {sorted(COLORS)}")
    return colors


@functools.lru_cache(maxsize=4096)
def _word_pattern(word: str) -> re.Pattern[str] | None:
    """Whole-word pattern for ``word``; None for Chinese, matched as a substring."""
    return None if _CJK.search(word) else re.compile(rf"(?<![\w']){re.escape(word)}(?![\w'])")


def has_word(text: str, word: str) -> bool:
    """``word`` occurs in lower-cased ``text``: as a substring for Chinese, as a whole word otherwise."""
    pattern = _word_pattern(word)
    return word in text if pattern is None else pattern.search(text) is not None


@functools.cache
def _type_words(chinese: bool) -> list[tuple[str, str]]:
    """(word, product type), longest words first."""
    return sorted(((w, t) for t, ws in PRODUCT_TYPES.items() for w in ws if chinese or not _CJK.search(w)),
                  key=lambda wt: -len(wt[0]))


def find_types(text: str, chinese: bool = True) -> list[str]:
    """Product types named in lower-cased ``text``, longest words first so that each span counts once."""
    found: list[str] = []
    for w, t in _type_words(chinese):
        if has_word(text, w):
            if t not in found:
                found.append(t)
            text = text.replace(w, " ")
    return found


def product_colors(p: Product) -> set[str]:
    vals = [v.lower() for v in p.attr("color")] or [w.lower() for w in p.title.replace("-", " ").split()]
    return {_COLOR_OF[v] for v in vals if v in _COLOR_OF}


def product_genders(p: Product) -> set[str]:
    vals = [v.lower() for v in p.attr("gender")] + [c.split("/")[0].lower() for c in p.categories]
    out = {g for g in GENDERS if g in vals}
    if "unisex" in vals:
        out |= set(GENDERS)
    return out


def product_types(p: Product) -> set[str]:
    """Types from the category path, or from the title when the path names none."""
    from_path = set(find_types(" ".join(p.categories).lower().replace("/", " "), chinese=False))
    return from_path or set(find_types(p.title.lower(), chinese=False))
