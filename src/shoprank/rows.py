"""Line-numbered rows from CSV and JSONL text, shared by the catalog and event-log importers.

Each reader yields ``(line, row)`` where ``row`` is a dict, or the exception that explains why
that line cannot be a row, so an importer reports the line and goes on with the next.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, TextIO

Rows = Iterator[tuple[int, dict[str, Any] | Exception]]


def csv_rows(f: TextIO, lower_header: bool = False) -> Rows:
    """Rows of a CSV stream with a header line (opened with ``newline=""``); blank rows are skipped."""
    reader = csv.reader(f)
    try:
        header = [h.strip().lower() if lower_header else h.strip() for h in next(reader)]
    except StopIteration:
        return
    while True:
        start = reader.line_num + 1  # a quoted cell may span lines; report where the row starts
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield start, ValueError(f"unreadable CSV: {e}")
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield start, ValueError(f"expected {len(header)} fields, found {len(cells)}")
            continue
        yield start, dict(zip(header, cells))


def jsonl_rows(f: TextIO) -> Rows:
    """One JSON object per line; blank lines are skipped."""
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield n, ValueError(f"invalid JSON: {e.msg} at column {e.colno}")
            continue
        yield n, obj if isinstance(obj, dict) else ValueError("row is not a JSON object")
