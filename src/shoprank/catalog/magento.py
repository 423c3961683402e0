"""Importer for Magento 2 sample-data exports (the "Luma" store layout).

Reads ``fixtures/ConfigurableSampleData/products.csv`` (configurable parents and their
size/colour variants), the simple/bundle/grouped/downloadable product CSVs, their
``images*.csv`` files and ``ReviewSampleData/products_reviews.csv``. Image paths are
resolved under ``images/product`` and must stay there (see :mod:`shoprank.catalog.images`);
one that does not, or is missing, is left out with a warning.
"""
from __future__ import annotations

import html
import logging
import re
from collections import defaultdict
from pathlib import Path
from statistics import fmean
from typing import Any

from pydantic import ValidationError

from shoprank.catalog.catalog import ImportResult
from shoprank.catalog.images import ImageRoot
from shoprank.catalog.loaders import _csv_rows
from shoprank.catalog.normalize import html_to_text, split_multi
from shoprank.rows import Rows
from shoprank.types import Product, Review, RowError, describe_error

log = logging.getLogger(__name__)

_SKIP_ATTRS = {"has_options", "required_options", "url_key", "visibility", "attribute_set"}
# Columns of the gear/bundle/... CSVs that are product fields rather than attributes.
_FIELD_COLS = {"category", "name", "sku", "price", "qty", "description", "short_description",
               "meta_description", "special_price", "bundle_options", "associated_sku",
               "samples_title", "links_title", "links_purchased_separately", "url_key"}
# A tuple, not a set: tag order reaches the encoded text, and a set's order changes from run to run.
_FLAGS = ("eco_collection", "performance_fabric", "erin_recommends", "new", "sale")


def _categories(raw: str, sep: str) -> list[str]:
    paths = []
    for c in raw.split(sep) if raw else []:
        c = c.strip().replace("\n", "/")
        c = re.sub(r"^Default Category/?", "", c).strip("/")
        if c and c not in paths:
            paths.append(c)
    # Merchandising collections go last so the first path names what the item *is*.
    return sorted(paths, key=lambda c: c.split("/")[0] in ("Collections", "Promotions"))


def _pair_lines(raw: str) -> str:
    # The flat CSVs list "parent\nchild" pairs: "Gear\nBags\nCollections\nErin Recommends".
    parts = [p.strip() for p in (raw or "").split("\n") if p.strip()]
    return ",".join("/".join(parts[i:i + 2]) for i in range(0, len(parts), 2))


def _magento_attrs(raw: str) -> dict[str, list[str]]:
    attrs: dict[str, list[str]] = {}
    last = None
    for part in (raw or "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            last = k.strip()
            attrs[last] = split_multi(v, "|")
        elif last:  # a comma inside a value
            attrs[last][-1] += "," + part
    return {k: v for k, v in attrs.items() if k not in _SKIP_ATTRS and v}


def _flag_collections(attrs: dict[str, list[str]]) -> None:
    # "eco_collection=Yes" reads better as a value than as a yes/no column.
    for flag in _FLAGS:
        vals = attrs.pop(flag, [])
        if vals and vals[0].lower() in ("yes", "1", "true"):
            attrs.setdefault("tags", []).append(flag.replace("_", " "))


def _stock(row: dict[str, Any]) -> dict[str, Any]:
    """``stock`` from ``qty`` and ``available`` from ``is_in_stock``, where the row has them."""
    out: dict[str, Any] = {}
    qty = (row.get("qty") or "").strip()
    if qty:
        q = float(qty)  # "100.0000" in some exports
        if not (q >= 0 and q.is_integer()):
            raise ValueError(f"qty: not a whole number >= 0: {qty!r}")
        out["stock"] = int(q)
    flag = (row.get("is_in_stock") or "").strip()
    if flag in ("0", "1"):
        out["available"] = flag == "1"
    return out


def _price(row: dict[str, Any]) -> float | None:
    for col in ("special_price", "price"):
        v = (row.get(col) or "").strip()
        if v:
            return float(v)
    return None


class _Builder:
    def __init__(self, root: Path):
        self.root = root
        self.fixtures = root / "fixtures"
        self.images_root = ImageRoot(root / "images" / "product", decode=False)  # the builder decodes
        self.result = ImportResult()
        self.images: dict[str, list[str]] = defaultdict(list)
        self.rows: list[tuple[str, int, dict[str, Any]]] = []  # (source, line, data for Product)
        self.links: dict[str, list[str]] = {}  # bundle/grouped sku -> member skus
        self.review_path = self.fixtures / "ReviewSampleData" / "products_reviews.csv"

    def add_images(self, sku: str, rels: list[str], source: Path, line: int) -> None:
        for rel in filter(None, (r.strip() for r in rels)):
            try:
                p = self.images_root.resolve(rel.lstrip("/"))  # "/m/b/mb01.jpg" is under images/product
            except ValueError as e:
                self.warn(source, line, f"{e}; image left out")
                continue
            if p not in self.images[sku]:
                self.images[sku].append(p)

    def error(self, source: Path, line: int, msg: str) -> None:
        self.result.errors.append(RowError(str(source), line, msg))

    def warn(self, source: Path, line: int, msg: str) -> None:
        self.result.warnings.append(RowError(str(source), line, msg))

    def csv(self, path: Path) -> Rows:
        return _csv_rows(path, lambda line, msg: self.warn(path, line, msg))

    def read_configurable(self) -> None:
        path = self.fixtures / "ConfigurableSampleData" / "products.csv"
        parents: dict[str, str] = {}
        staged = []
        for line, row in self.csv(path):
            if isinstance(row, Exception):
                self.error(path, line, str(row))
                continue
            staged.append((line, row))
            if row.get("product_type") == "configurable":
                for var in split_multi(row.get("configurable_variations"), "|"):
                    m = re.match(r"sku=([^,]+)", var)
                    if m:
                        parents[m.group(1).strip()] = row["sku"].strip()
        for line, row in staged:
            try:
                sku = row["sku"].strip()
                attrs = _magento_attrs(row.get("additional_attributes", ""))
                _flag_collections(attrs)
                self.add_images(sku, [row.get("base_image") or ""] + (row.get("additional_images") or "").split(","),
                                path, line)
                self.rows.append((str(path), line, {
                    "id": sku,
                    "title": html.unescape(row.get("name", "")),
                    "description": html_to_text(row.get("description")) or html_to_text(row.get("short_description")),
                    "categories": _categories(row.get("categories", ""), ","),
                    "price": _price(row),
                    "attributes": attrs,
                    "parent_id": parents.get(sku),
                    "url": row.get("url_key") or None,
                    **_stock(row),
                    "_configurable": row.get("product_type") == "configurable",
                }))
            except (ValueError, KeyError) as e:
                self.error(path, line, f"{type(e).__name__}: {e}")

    def read_simple_tables(self) -> None:
        # Every other products CSV shares one flat layout: attribute columns hold
        # newline-separated multi-values.
        for path in sorted(self.fixtures.glob("*/**/*.csv")):
            name = path.name
            if "ConfigurableSampleData" in path.parts or name.startswith("images") or "Links" in path.parts \
                    or "Link" in path.parts or "products" not in name and "yoga_" not in name:
                continue
            if name in ("products_reviews.csv", "products_msrp.csv"):
                continue
            for line, row in self.csv(path):
                if isinstance(row, Exception):
                    self.error(path, line, str(row))
                    continue
                try:
                    sku = row["sku"].strip()
                    attrs = {k: split_multi(v, "\n|") for k, v in row.items()
                             if k not in _FIELD_COLS and k not in _SKIP_ATTRS and v and v.strip()}
                    _flag_collections(attrs)
                    members = split_multi(row.get("associated_sku"), ",") or [
                        s for opt in split_multi(row.get("bundle_options"), "\n")
                        for s in opt.split(":", 1)[-1].split(",") if s.strip()]
                    if members:
                        self.links[sku] = [s.strip() for s in members]
                    self.rows.append((str(path), line, {
                        "id": sku,
                        "title": html.unescape(row.get("name", "")),
                        "description": html_to_text(row.get("description"))
                        or html_to_text(row.get("short_description")),
                        "categories": _categories(_pair_lines(row.get("category", "")), ","),
                        "price": _price(row),
                        "attributes": attrs,
                        "url": row.get("url_key") or None,
                        **_stock(row),
                    }))
                except (ValueError, KeyError) as e:
                    self.error(path, line, f"{type(e).__name__}: {e}")

    def read_image_tables(self) -> None:
        for path in sorted(self.fixtures.glob("**/images*.csv")):
            for line, row in self.csv(path):
                if isinstance(row, Exception):
                    self.error(path, line, str(row))
                elif row.get("sku") and row.get("image"):
                    self.add_images(row["sku"].strip(), [row["image"]], path, line)

    def read_reviews(self) -> dict[str, list[tuple[int, Review]]]:
        path = self.review_path
        out: dict[str, list[tuple[int, Review]]] = defaultdict(list)
        if not path.is_file():
            return out
        for line, row in self.csv(path):
            try:
                if isinstance(row, Exception):
                    raise row
                out[row["sku"].strip()].append((line, Review(
                    rating=float(row["rating_value"]) if row.get("rating_value") else None,
                    title=row.get("title", "").strip(), text=row.get("review", "").strip(),
                    author=row.get("reviewer") or None)))
            except (ValueError, KeyError, ValidationError) as e:
                self.error(path, line, describe_error(e))
        return out

    def build(self) -> ImportResult:
        self.read_configurable()
        self.read_simple_tables()
        self.read_image_tables()
        by_sku = self.read_reviews()
        reviews = {sku: [r for _, r in rows] for sku, rows in by_sku.items()}
        known = {d["id"] for _, _, d in self.rows}
        for sku, rows in by_sku.items():
            if sku not in known:  # reported, not silently dropped
                for line, _ in rows:
                    self.error(self.review_path, line, f"review for unknown product sku {sku!r}")
        prices = {d["id"]: d["price"] for _, _, d in self.rows if d.get("price") is not None}
        # A configurable product holds no stock of its own (qty 0): it has what its variants have.
        variant_stock: dict[str, int] = defaultdict(int)
        for _, _, d in self.rows:
            if d.get("parent_id") and d.get("stock") is not None and d.get("available", True):
                variant_stock[d["parent_id"]] += d["stock"]
        for source, line, d in self.rows:
            if d.pop("_configurable", False):
                d["stock"] = variant_stock.get(d["id"], 0)
            elif d["id"] in self.links:  # bundle/grouped: stock is the members'
                d.pop("stock", None)
            sku = d["id"]
            revs = reviews.get(sku, [])
            group_revs = revs or reviews.get(d.get("parent_id") or "", [])
            rated = [r.rating for r in group_revs if r.rating is not None]
            if d["price"] is None and sku in self.links:  # bundle/grouped: "from" price
                member_prices = [prices[s] for s in self.links[sku] if s in prices]
                d["price"] = min(member_prices) if member_prices else None
            try:
                product = Product(**d, images=self.images.get(sku, []), reviews=revs,
                                  rating=round(fmean(rated), 3) if rated else None, review_count=len(group_revs))
            except ValidationError as e:
                self.error(Path(source), line, describe_error(e))
                continue
            self.result.add(product, source, line)  # a repeated sku is reported, the first kept
        return self.result


def load_magento(root: str | Path) -> ImportResult:
    """Import a Magento sample-data tree (``root`` holds ``fixtures/`` and ``images/``)."""
    root = Path(root)
    if not (root / "fixtures").is_dir():
        raise FileNotFoundError(f"{root} has no fixtures/ folder: not a Magento sample-data tree")
    res = _Builder(root).build()
    log.info("magento: %d products, %d errors", len(res.products), len(res.errors))
    return res
