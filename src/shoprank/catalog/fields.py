"""How the cells of a loosely-named catalog row become :class:`Product` fields.

Each field is declared once: the column names it may come under and a strict parser. A
parser raises ``ValueError`` naming the field, so a cell of the wrong kind (a list as a
title, ``inf`` as a price) is reported instead of being coerced to its repr or to null.
Ranges (price >= 0, rating 0..5, counts up to :data:`MAX_COUNT`) are checked by Product.
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shoprank.catalog.normalize import html_to_text, split_multi
from shoprank.rows import loads_row
from shoprank.types import CAPS, Product, cap

_Parse = Callable[[str, Any], Any]


def _kind(v: Any) -> str:
    return type(v).__name__


def _finite(name: str, v: Any) -> float:
    # bool is an int to Python, but `true` is no price; Parquet decimal columns give Decimal.
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal, str)):
        raise ValueError(f"{name}: must be a number, not {_kind(v)}")
    try:
        x = float(v)
    except ValueError:
        raise ValueError(f"{name}: not a number: {v!r}") from None
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name}: not a finite number: {v!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name}: not a finite number: {v!r}")
    return x


def _count(name: str, v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    x = _finite(name, v)
    if not x.is_integer():
        raise ValueError(f"{name}: not a whole number: {v!r}")
    return int(x)


_TRUE = frozenset({"1", "true", "yes", "y", "in stock", "in_stock", "instock", "available"})
_FALSE = frozenset({"0", "false", "no", "n", "out of stock", "out_of_stock", "outofstock", "unavailable"})


def _flag(name: str, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v in (0, 1):
        return bool(v)
    if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
        return v.strip().lower() in _TRUE
    raise ValueError(f"{name}: not yes/no: {v!r}")


def _identifier(name: str, v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, float) and v.is_integer():  # a numeric id column read as floats
        return str(int(v))
    raise ValueError(f"{name}: must be a string or a whole number, not {_kind(v)} {v!r}")


def _text(name: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"{name}: must be text, not {_kind(v)}")
    if name in CAPS:  # refused before any clean-up reads it (Product would refuse it too)
        cap(name, v)
    return v


def _text_list(name: str, v: Any, seps: str) -> list[str]:
    if isinstance(v, str):
        return split_multi(v, seps)
    if not isinstance(v, (list, tuple)):
        raise ValueError(f"{name}: must be text or a list of text, not {_kind(v)}")
    bad = [x for x in v if not isinstance(x, str)]
    if bad:
        raise ValueError(f"{name}: each entry must be text, not {_kind(bad[0])} {bad[0]!r}")
    return [x.strip() for x in v if x.strip()]


def _norm_category(path: str) -> str:
    for sep in (" > ", ">", "\\"):
        path = path.replace(sep, "/")
    return "/".join(seg.strip() for seg in path.split("/") if seg.strip())


def _categories(name: str, v: Any) -> list[str]:
    return [c for c in map(_norm_category, _text_list(name, v, "|\n")) if c]


def _reviews(name: str, v: Any) -> list[Any]:
    if isinstance(v, str):
        try:
            v = loads_row(v)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
    if not isinstance(v, list) or not all(isinstance(r, dict) for r in v):
        raise ValueError(f"{name}: must be a list of review objects")
    return v  # each review is validated by Product


@dataclass(frozen=True, slots=True)
class _Field:
    names: tuple[str, ...]  # accepted column names, first non-blank one wins
    parse: _Parse


FIELDS: dict[str, _Field] = {
    "id": _Field(("id", "sku", "product_id", "product_uid", "asin"), _identifier),
    "title": _Field(("title", "name", "product_title", "product_name"), lambda n, v: html.unescape(_text(n, v))),
    "description": _Field(("description", "product_description", "desc"), lambda n, v: html_to_text(_text(n, v))),
    "categories": _Field(("categories", "category", "category_path"), _categories),
    "price": _Field(("price",), _finite),
    "currency": _Field(("currency",), _text),
    "rating": _Field(("rating", "average_rating"), _finite),
    "review_count": _Field(("review_count", "reviews_count", "rating_count"), _count),
    "sales": _Field(("sales", "sales_count", "units_sold"), _count),
    # Paths only here; the importer resolves and checks each file.
    "images": _Field(("images", "image", "image_paths", "image_path"), lambda n, v: _text_list(n, v, "|,")),
    "videos": _Field(("videos", "video", "video_paths", "video_path"), lambda n, v: _text_list(n, v, "|,")),
    "parent_id": _Field(("parent_id", "parent_sku", "group_id"), _identifier),
    "url": _Field(("url", "product_url"), _text),
    "reviews": _Field(("reviews",), _reviews),
    "stock": _Field(("stock", "qty", "quantity", "inventory"), _count),
    "available": _Field(("available", "is_in_stock", "in_stock", "availability"), _flag),
}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _attr_values(name: str, v: Any, split: bool) -> list[str]:
    # Text cells may hold several values ("Nylon|Polyester"); a JSON list already does.
    vals = split_multi(v, "|") if split and isinstance(v, str) else v if isinstance(v, (list, tuple)) else [v]
    for x in vals:
        if isinstance(x, (dict, list, tuple)) or (isinstance(x, float) and not math.isfinite(x)):
            raise ValueError(f"attributes.{name}: values must be text or numbers, not {_kind(x)} {x!r}")
    return [str(x) for x in vals if not _blank(x)]


def _attributes(row: dict[str, Any]) -> dict[str, list[str]]:
    raw = row.get("attributes")
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            raw = loads_row(raw)
        except ValueError as e:
            raise ValueError(f"attributes: {e}") from None
        if not isinstance(raw, dict):
            raise ValueError("attributes: must be a JSON object")
    out: dict[str, list[str]] = {}
    if isinstance(raw, dict):
        out = {str(k).strip(): _attr_values(str(k), v, split=False) for k, v in raw.items()}
    elif isinstance(raw, str):  # "material=Nylon|Polyester;pattern=Solid"
        for k, v in (part.split("=", 1) for part in raw.split(";") if "=" in part):
            out[k.strip()] = _attr_values(k, v, split=True)
    elif not _blank(raw):
        raise ValueError(f"attributes: must be an object or k=v;k2=a|b text, not {_kind(raw)}")
    for k, v in row.items():
        if isinstance(k, str) and k.startswith(("attr_", "attr.")) and not _blank(v):
            out[k[5:]] = _attr_values(k[5:], v, split=True)
    return out


def fold_keys(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with its column names trimmed and lower-cased. Where several spellings of one
    column are given, the first non-blank value wins: a blank "Title" must not hide "title"."""
    folded: dict[str, Any] = {}
    for k, v in row.items():
        key = k.strip().lower() if isinstance(k, str) else k
        if key not in folded or (_blank(folded[key]) and not _blank(v)):
            folded[key] = v
    return folded


def row_to_product(row: dict[str, Any], notes: list[str] | None = None) -> Product:
    """Map one loosely-named row onto :class:`Product` (raises ValueError / ValidationError).

    Column names are matched case-insensitively. Text or lists over a field's cap (see
    :data:`~shoprank.types.CAPS`) are cut, each cut described in ``notes``. ``images``
    holds the paths as written; the caller resolves them.
    """
    row = fold_keys(row)
    data: dict[str, Any] = {}
    for name, fld in FIELDS.items():
        v = next((row[n] for n in fld.names if n in row and not _blank(row[n])), None)
        if v is not None:
            data[name] = fld.parse(name, v)
    data["attributes"] = _attributes(row)
    return Product.model_validate(data, context={"notes": notes if notes is not None else []})
