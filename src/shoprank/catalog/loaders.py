"""Generic catalog importers: CSV, JSONL and Parquet files with flexible column names.

Every row is validated on its own; a bad row becomes a :class:`RowError` with its file
and line, and the remaining rows are still ingested. A file that cannot be read at all
becomes a :class:`FileError`, so the other files of an import still go in.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ValidationError

from shoprank.catalog.catalog import FileError, ImportResult
from shoprank.catalog.fields import row_to_product
from shoprank.catalog.images import ImageRoot
from shoprank.catalog.videos import VideoRoot
from shoprank.rows import FALLBACK_ENCODING, Rows, TextLines, csv_rows, jsonl_rows
from shoprank.types import RowError, describe_error

__all__ = ["CATALOG_FORMATS", "load_catalog_file", "row_to_product"]

Warn = Callable[[int, str], None]  # (line, message) of a row kept with a caveat


def _row_problem(err: Exception) -> str:
    """Why a row was left out; an error no parser anticipated keeps its type name."""
    if isinstance(err, (ValueError, ValidationError)):
        return describe_error(err)
    return f"{type(err).__name__}: {err}"


def _text_lines(path: Path, warn: Warn) -> Iterator[str]:
    with path.open("rb") as f:
        lines = TextLines(f)
        yield from lines
    if lines.fallback_lines:
        bad = lines.fallback_lines
        warn(bad[0], f"not valid UTF-8: {len(bad)} line(s), the first here, read as {FALLBACK_ENCODING}")


def _csv_rows(path: Path, warn: Warn) -> Rows:
    return csv_rows(_text_lines(path, warn))


def _jsonl_rows(path: Path, warn: Warn) -> Rows:
    return jsonl_rows(_text_lines(path, warn))


def _parquet_rows(path: Path, warn: Warn) -> Rows:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    yield from enumerate(table.to_pylist(), 1)


_READERS: dict[str, Callable[[Path, Warn], Rows]] = {
    ".csv": _csv_rows, ".jsonl": _jsonl_rows, ".ndjson": _jsonl_rows, ".parquet": _parquet_rows}
CATALOG_FORMATS = tuple(sorted(_READERS))


def _confined(paths: list[str], root: ImageRoot, warn: Callable[[str], None]) -> list[str]:
    """The paths that resolve inside ``root`` to a usable file, each once; the others warned of."""
    kept: list[str] = []
    for raw in paths:
        try:
            path = root.resolve(raw)
        except ValueError as e:  # the product stays findable by its text
            warn(f"{e}; {root.kind} left out")
            continue
        if path not in kept:
            kept.append(path)
    return kept


def _ingest(rows: Rows, source: str, images: ImageRoot, res: ImportResult) -> None:
    videos = VideoRoot(images.root)  # in the photos' folder, checked the same way
    for line, row in rows:
        if isinstance(row, Exception):
            res.errors.append(RowError(source, line, describe_error(row)))
            continue
        notes: list[str] = []
        try:
            product = row_to_product(row, notes)
        except Exception as e:  # a row is data: nothing in it may abort the import
            res.errors.append(RowError(source, line, _row_problem(e)))
            continue
        res.warnings += [RowError(source, line, note) for note in notes]

        def warn(msg: str, line: int = line) -> None:
            res.warnings.append(RowError(source, line, msg))

        media = {"images": _confined(product.images, images, warn)}
        if product.videos:
            media["videos"] = _confined(product.videos, videos, warn)
        res.add(product.model_copy(update=media), source, line)


def load_catalog_file(path: str | Path, image_root: str | Path | None = None) -> ImportResult:
    """Import products from a ``.csv``, ``.jsonl``/``.ndjson`` or ``.parquet`` file.

    Image and video paths are stored absolute; relative ones start at ``image_root`` (default:
    the file's folder), and every image must resolve inside it and be a readable image (every
    video: a video container), else it is left out with a warning. Text is UTF-8; a line that
    is not is read as cp1252, with a warning. Only an unsupported extension raises
    (ValueError); a file that cannot be read is reported in ``file_errors``.
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(f"unsupported catalog format {path.suffix!r}; use one of {list(CATALOG_FORMATS)}")
    source = str(path)
    res = ImportResult()
    images = ImageRoot(image_root if image_root is not None else path.parent, decode=False)  # the builder decodes
    try:
        _ingest(reader(path, lambda line, msg: res.warnings.append(RowError(source, line, msg))), source, images, res)
    except Exception as e:  # the file itself (missing, unreadable, corrupt): rows read so far are kept
        why = e.strerror if isinstance(e, OSError) and e.strerror else (str(e).splitlines() or [""])[0]
        res.file_errors.append(FileError(source, f"cannot read ({type(e).__name__}): {why}"))
    return res
