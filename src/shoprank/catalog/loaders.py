"""Generic catalog importers: CSV, JSONL and Parquet files with flexible column names.

Every row is validated on its own; a bad row becomes a :class:`RowError` with its file
and line, and the remaining rows are still ingested.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shoprank.catalog.catalog import ImportResult
from shoprank.catalog.normalize import html_to_text, split_multi
from shoprank.rows import Rows, csv_rows, jsonl_rows
from shoprank.types import Product, RowError, describe_error

# Accepted spellings of each Product field, first match wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "sku", "product_id", "product_uid", "asin"),
    "title": ("title", "name", "product_title", "product_name"),
    "description": ("description", "product_description", "desc"),
    "categories": ("categories", "category", "category_path"),
    "price": ("price",),
    "currency": ("currency",),
    "rating": ("rating", "average_rating"),
    "review_count": ("review_count", "reviews_count", "rating_count"),
    "sales": ("sales", "sales_count", "units_sold"),
    "images": ("images", "image", "image_paths", "image_path"),
    "parent_id": ("parent_id", "parent_sku", "group_id"),
    "url": ("url", "product_url"),
    "reviews": ("reviews",),
}
_NUMERIC = {"price": float, "rating": float, "review_count": int, "sales": int}


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _pick(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in row and not _blank(row[n]):
            return row[n]
    return None


def _parse_attributes(raw: Any) -> dict[str, Any]:
    if _blank(raw):
        return {}
    if isinstance(raw, dict):
        return raw
    s = str(raw).strip()
    if s.startswith("{"):
        return json.loads(s)
    out: dict[str, Any] = {}
    for part in s.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = split_multi(v, "|")
    return out


def _norm_category(path: str) -> str:
    for sep in (" > ", ">", "\\"):
        path = path.replace(sep, "/")
    return "/".join(seg.strip() for seg in path.split("/") if seg.strip())


def row_to_product(row: dict[str, Any], image_root: Path | None = None) -> Product:
    """Map one loosely-named row onto :class:`Product` (raises ValueError / ValidationError)."""
    data: dict[str, Any] = {}
    for fld, names in ALIASES.items():
        v = _pick(row, names)
        if v is None:
            continue
        if fld in _NUMERIC:
            try:
                v = _NUMERIC[fld](float(v))
            except (TypeError, ValueError):
                raise ValueError(f"{fld}: not a number: {v!r}") from None
        data[fld] = v
    if isinstance(data.get("title"), str):
        data["title"] = html.unescape(data["title"])
    if isinstance(data.get("description"), str):
        data["description"] = html_to_text(data["description"])
    cats = data.get("categories")
    if isinstance(cats, str):
        cats = split_multi(cats, "|\n")
    data["categories"] = [_norm_category(c) for c in (cats or []) if str(c).strip()]
    imgs = data.get("images")
    if isinstance(imgs, str):
        imgs = split_multi(imgs, "|,")
    if imgs and image_root is not None:
        imgs = [str(p) if Path(p).is_absolute() else str(image_root / str(p).lstrip("/")) for p in imgs]
    data["images"] = list(imgs or [])
    if isinstance(data.get("reviews"), str):
        data["reviews"] = json.loads(data["reviews"])
    attrs = _parse_attributes(row.get("attributes"))
    for k, v in row.items():
        if isinstance(k, str) and k.startswith(("attr_", "attr.")) and not _blank(v):
            attrs[k[5:]] = v if isinstance(v, list) else split_multi(str(v), "|")
    data["attributes"] = attrs
    for key in ("id", "title", "parent_id"):
        if key in data and not isinstance(data[key], str):
            data[key] = str(data[key])
    return Product.model_validate(data)


def _ingest(rows: Rows, source: str, image_root: Path | None) -> ImportResult:
    res = ImportResult()
    for line, row in rows:
        if isinstance(row, Exception):
            res.errors.append(RowError(source, line, describe_error(row)))
            continue
        try:
            res.products.append(row_to_product(row, image_root))
        except (ValueError, ValidationError, TypeError) as e:
            res.errors.append(RowError(source, line, describe_error(e)))
    return res


def _csv_rows(path: Path) -> Rows:
    with path.open(newline="", encoding="utf-8-sig") as f:
        yield from csv_rows(f)


def _jsonl_rows(path: Path) -> Rows:
    with path.open(encoding="utf-8") as f:
        yield from jsonl_rows(f)


def _parquet_rows(path: Path) -> Rows:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    yield from enumerate(table.to_pylist(), 1)


_READERS = {".csv": _csv_rows, ".jsonl": _jsonl_rows, ".ndjson": _jsonl_rows, ".parquet": _parquet_rows}


def load_catalog_file(path: str | Path, image_root: str | Path | None = None) -> ImportResult:
    """Import products from a ``.csv``, ``.jsonl``/``.ndjson`` or ``.parquet`` file.

    Relative image paths resolve against ``image_root`` (default: the file's folder).
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"unsupported catalog format {path.suffix!r}; use one of {sorted(_READERS)}")
    root = Path(image_root) if image_root is not None else path.parent
    return _ingest(reader(path), str(path), root)
