"""Generic catalog importers: CSV, JSONL and Parquet files with flexible column names.

Every row is validated on its own; a bad row becomes a :class:`RowError` with its file
and line, and the remaining rows are still ingested.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from shoprank.catalog.catalog import ImportResult
from shoprank.catalog.fields import row_to_product
from shoprank.rows import Rows, csv_rows, jsonl_rows
from shoprank.types import RowError, describe_error

__all__ = ["load_catalog_file", "row_to_product"]


def _row_problem(err: Exception) -> str:
    """Why a row was left out; an error no parser anticipated keeps its type name."""
    if isinstance(err, (ValueError, ValidationError)):
        return describe_error(err)
    return f"{type(err).__name__}: {err}"


def _ingest(rows: Rows, source: str, image_root: Path | None) -> ImportResult:
    res = ImportResult()
    for line, row in rows:
        if isinstance(row, Exception):
            res.errors.append(RowError(source, line, describe_error(row)))
            continue
        try:
            product = row_to_product(row)
        except Exception as e:  # a row is data: nothing in it may abort the import
            res.errors.append(RowError(source, line, _row_problem(e)))
            continue
        if image_root is not None:
            images = [i if Path(i).is_absolute() else str(image_root / i.lstrip("/")) for i in product.images]
            product = product.model_copy(update={"images": images})
        res.products.append(product)
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
