"""Line-numbered rows from CSV and JSONL text, shared by the catalog and event-log importers.

Each reader yields ``(line, row)`` where ``row`` is a dict, or the exception that explains why
that line cannot be a row, so an importer reports the line and goes on with the next.
"""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

Rows = Iterator[tuple[int, dict[str, Any] | Exception]]

# Far above any real cell (csv's default of 128 KiB rejects long product descriptions),
# still a bound on what one unclosed quote can swallow.
CSV_FIELD_LIMIT = 256 * 1024 * 1024
FALLBACK_ENCODING = "cp1252"
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")


class TextLines:
    """The lines of a binary stream as text, line ends kept (what ``newline=""`` gives).

    Lines are UTF-8, a leading byte-order mark dropped. A line that is not UTF-8 is read as
    cp1252 (Windows Latin-1; latin-1 for its five unmapped bytes) and its number kept in
    ``fallback_lines``, so a spreadsheet export costs neither the file nor its rows, and the
    UTF-8 lines of a mixed file stay intact. Splitting bytes at ``\n`` is safe: no UTF-8
    sequence contains that byte.
    """

    def __init__(self, f: IO[bytes]):
        self._f = f
        self.fallback_lines: list[int] = []

    def __iter__(self) -> Iterator[str]:
        n = 0
        for i, raw in enumerate(self._f):
            if i == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
                fallback = False
            except UnicodeDecodeError:
                try:
                    text = raw.decode(FALLBACK_ENCODING)
                except UnicodeDecodeError:
                    text = raw.decode("latin-1")
                fallback = True
            for part in _LONE_CR.split(text):  # old Mac line ends
                if part:
                    n += 1
                    if fallback:
                        self.fallback_lines.append(n)
                    yield part


def csv_rows(f: Iterable[str], lower_header: bool = False) -> Rows:
    """Rows of CSV text with a header line (a file opened with ``newline=""``, or :class:`TextLines`);
    blank rows are skipped."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
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


def _no_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON has not: a NaN price would pass as "no price".
    raise ValueError(f"{name} is not a JSON value")


def loads_row(text: str) -> Any:
    """``json.loads`` for one untrusted row: every way it can fail is a ValueError saying why."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:  # nesting deeper than the decoder's stack
        raise ValueError("invalid JSON: nested too deeply") from None
    except ValueError as e:  # NaN, or an integer longer than Python converts (4300 digits)
        why = "a number too long to read" if "digits" in str(e) else str(e)
        raise ValueError(f"invalid JSON: {why}") from None


def jsonl_rows(f: Iterable[str]) -> Rows:
    """One JSON object per line; blank lines are skipped."""
    for n, line in enumerate(f, 1):
        if not line.strip():
            continue
        try:
            obj = loads_row(line)
        except ValueError as e:
            yield n, e
            continue
        yield n, obj if isinstance(obj, dict) else ValueError("row is not a JSON object")
