"""Importers for shopper event logs: OTTO sessions, JDsearch users and generic CSV/JSONL logs.

Each importer reads a file line by line and validates every record with :class:`Event`. A
malformed line becomes a :class:`RowError` (file, 1-based line number, reason) and the
remaining lines are still imported, so one bad line never costs a whole file.

Formats
-------
- **OTTO** (Philipp Normann et al., *OTTO Recommender Systems Dataset*, 2022;
  github.com/otto-de/recsys-dataset): one session per JSON line,
  ``{"session": 0, "events": [{"aid": 1517085, "ts": 1659304800025, "type": "clicks"}, ...]}``
  with ``ts`` in milliseconds and types ``clicks``/``carts``/``orders``.
- **JDsearch** (Liu, Dou, Tang, Xu, *JDsearch: A Personalized Product Search Dataset with Real
  Queries and Full Interactions*, SIGIR 2023; github.com/rucliujn/JDsearch): one user per
  tab-separated line, see :func:`load_jdsearch`.
- **Generic**: CSV or JSONL with the :class:`Event` fields as columns, see :func:`load_event_log`.
"""
from __future__ import annotations

import gzip
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from shoprank.rows import Rows, csv_rows, jsonl_rows
from shoprank.types import Event, EventType, RowError, describe_error

__all__ = ["IMPORTERS", "ImportedEvents", "load_event_log", "load_jdsearch", "load_otto", "normalize_event_type"]

# Event-type spellings seen in public logs, mapped onto shoprank's four types.
TYPE_ALIASES: dict[str, EventType] = {
    "view": "view", "views": "view", "pageview": "view", "page_view": "view", "impression": "view",
    "click": "click", "clicks": "click",
    "cart": "cart", "carts": "cart", "add_to_cart": "cart", "addtocart": "cart",
    "purchase": "purchase", "purchases": "purchase", "order": "purchase", "orders": "purchase",
    "ord": "purchase", "buy": "purchase", "transaction": "purchase",
}
OTTO_TYPES: dict[str, EventType] = {"clicks": "click", "carts": "cart", "orders": "purchase"}
# JDsearch candidate labels: 0 no interaction, 1 click, 2 add to cart, 3 purchase (README).
JD_LABELS: dict[int, EventType] = {1: "click", 2: "cart", 3: "purchase"}
JD_TERM_SEP = "\x18"  # term ids inside one query are joined by ASCII 0x18 ("^X" in vim)
JD_COLUMNS = ("query", "candidate_wid_list", "candidate_label_list", "history_qry_list",
              "history_wid_list", "history_type_list", "history_time_list")
# JDsearch logs only time gaps, never dates; the test query of every user is placed here
# (2022-09-01T00:00Z, an arbitrary anchor) and the history is laid out backwards from it.
JD_ANCHOR_TS = 1_661_990_400.0
QUERY_MAX_CHARS = 500  # Event.query's limit


@dataclass
class ImportedEvents:
    """Events that passed validation, and the lines that did not (with file and line)."""

    events: list[Event] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def extend(self, other: ImportedEvents) -> None:
        self.events.extend(other.events)
        self.errors.extend(other.errors)


def normalize_event_type(raw: Any) -> EventType:
    """Map a logged type (``"clicks"``, ``"ORD"``, ``"add_to_cart"`` ...) onto an :data:`EventType`."""
    key = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return TYPE_ALIASES[key]
    except KeyError:
        raise ValueError(f"type: unknown event type {raw!r}; use one of view, click, cart, purchase") from None


def _open_text(path: Path) -> TextIO:
    # The public dumps ship gzipped; reading them in place saves a 10 GB decompression.
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _real_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _parse_lines(path: Path, parse: Callable[[str, int], list[Event]], limit: int | None = None,
                 skip: Callable[[int, str], bool] | None = None) -> ImportedEvents:
    """Run ``parse`` on every non-blank line; a line that raises becomes one RowError."""
    res = ImportedEvents()
    n_parsed = 0
    with _open_text(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or (skip is not None and skip(n, line)):
                continue
            if limit is not None and n_parsed >= limit:
                break
            n_parsed += 1
            try:
                res.events.extend(parse(line, n_parsed - 1))
            except (ValueError, TypeError, KeyError, ValidationError) as e:
                res.errors.append(RowError(str(path), n, describe_error(e)))
    return res


# -- OTTO -----------------------------------------------------------------------------------

def _otto_line(line: str, _index: int) -> list[Event]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON: {e.msg} at column {e.colno}") from None
    if not isinstance(obj, dict) or "session" not in obj or not isinstance(obj.get("events"), list):
        raise ValueError('expected {"session": ..., "events": [...]}')
    sid = f"otto-{obj['session']}"
    out: list[Event] = []
    for i, ev in enumerate(obj["events"]):
        if not isinstance(ev, dict):
            raise ValueError(f"events[{i}]: not an object")
        typ = OTTO_TYPES.get(ev.get("type"))  # type: ignore[arg-type]
        if typ is None:
            raise ValueError(f"events[{i}].type: unknown OTTO type {ev.get('type')!r}")
        ts = ev.get("ts")
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            raise ValueError(f"events[{i}].ts: not a number: {ts!r}")
        aid = ev.get("aid")
        if isinstance(aid, bool) or not isinstance(aid, (int, str)):
            raise ValueError(f"events[{i}].aid: not an id: {aid!r}")
        try:
            out.append(Event(session_id=sid, product_id=str(aid), type=typ, ts=ts / 1000.0))
        except ValidationError as e:
            raise ValueError(f"events[{i}]: {describe_error(e)}") from None
    return out


def load_otto(path: str | Path, limit: int | None = None) -> ImportedEvents:
    """Import an OTTO session file (``.jsonl`` or ``.jsonl.gz``), at most ``limit`` sessions.

    Session ``s`` becomes ``session_id="otto-s"``; ``aid`` becomes ``product_id``; ``clicks``,
    ``carts``, ``orders`` become ``click``, ``cart``, ``purchase``; ``ts`` goes from ms to s.
    A line is one session and is taken whole or not at all: a line with any malformed event
    is reported once and skipped, so no session is imported half.
    """
    return _parse_lines(Path(path), _otto_line, limit)


# -- JDsearch --------------------------------------------------------------------------------

def _jd_list(cell: str) -> list[str]:
    cell = cell.strip()
    return cell.split("_") if cell else []


def _jd_query(raw: str) -> str | None:
    """Term ids joined by spaces; ``-1`` (a query-less interaction) gives None."""
    raw = raw.strip()
    if not raw or raw == "-1":
        return None
    terms = [t for t in raw.split(JD_TERM_SEP) if t]
    text = " ".join(terms)
    while len(text) > QUERY_MAX_CHARS and len(terms) > 1:  # keep whole terms, drop the tail
        terms.pop()
        text = " ".join(terms)
    return text[:QUERY_MAX_CHARS] or None


def _jd_parser(anchor_ts: float, follow_as: EventType | None) -> Callable[[str, int], list[Event]]:
    history_types: dict[str, EventType | None] = {"CLICK": "click", "CART": "cart", "ORD": "purchase",
                                                  "FLW": follow_as}

    def parse(line: str, index: int) -> list[Event]:
        cells = line.split("\t")
        if len(cells) != len(JD_COLUMNS):
            raise ValueError(f"expected {len(JD_COLUMNS)} tab-separated fields, found {len(cells)}")
        query, cand, labels, h_qry, h_wid, h_type, h_time = cells
        cand_ids, cand_labels = _jd_list(cand), _jd_list(labels)
        if len(cand_ids) != len(cand_labels):
            raise ValueError(f"{len(cand_ids)} candidates but {len(cand_labels)} labels")
        h_qry_l, h_wid_l, h_type_l, h_time_l = _jd_list(h_qry), _jd_list(h_wid), _jd_list(h_type), _jd_list(h_time)
        n = len(h_wid_l)
        if len(h_qry_l) != n or len(h_type_l) != n:
            raise ValueError(f"history lists differ in length: {len(h_qry_l)} queries, {n} products, "
                             f"{len(h_type_l)} types")
        # One gap per history event plus one for the test query (the first gap is 0).
        if n and len(h_time_l) != n + 1:
            raise ValueError(f"history_time_list has {len(h_time_l)} gaps, expected {n + 1}")
        try:
            gaps = [float(g) for g in h_time_l]
        except ValueError:
            raise ValueError("history_time_list: not a list of numbers") from None
        if any(not math.isfinite(g) or g < 0 for g in gaps):
            raise ValueError("history_time_list: gaps must be finite and >= 0")
        user = f"jd-{index}"
        out: list[Event] = []
        # gaps[k] separates behaviour k-1 from k; behaviour n is the test query at anchor_ts.
        offsets = [0.0] * (n + 1)
        for k in range(n - 1, -1, -1):
            offsets[k] = offsets[k + 1] + gaps[k + 1]
        for k in range(n):
            code = h_type_l[k].strip().upper()
            if code not in history_types:
                raise ValueError(f"history_type_list[{k}]: unknown type {h_type_l[k]!r}")
            typ = history_types[code]
            if typ is None:
                continue
            out.append(Event(user_id=user, product_id=h_wid_l[k], type=typ, query=_jd_query(h_qry_l[k]),
                             ts=max(anchor_ts - offsets[k], 0.0)))
        test_query = _jd_query(query)
        for k, (wid, lab) in enumerate(zip(cand_ids, cand_labels)):
            try:
                level = float(lab)
            except ValueError:
                raise ValueError(f"candidate_label_list[{k}]: not a number: {lab!r}") from None
            if level <= 0:
                continue
            typ = JD_LABELS.get(int(level)) if level.is_integer() else None
            if typ is None:
                raise ValueError(f"candidate_label_list[{k}]: unknown label {lab!r} (expected 0-3)")
            out.append(Event(user_id=user, product_id=wid, type=typ, query=test_query, ts=anchor_ts))
        return out

    return parse


def _jd_file(path: Path) -> Path:
    if not path.is_dir():
        return path
    for pattern in ("user_behavior_data*.txt*", "release_data*.txt*"):
        found = sorted(path.glob(pattern))
        if found:
            return found[0]
    raise FileNotFoundError(f"no JDsearch user file (user_behavior_data*.txt or release_data.txt) in {path}")


def load_jdsearch(path_or_dir: str | Path, anchor_ts: float = JD_ANCHOR_TS, follow_as: EventType | None = "click",
                  limit: int | None = None) -> ImportedEvents:
    """Import JDsearch user lines (``release_data.txt`` or its ``user_behavior_data_sample.txt``).

    Each line is one anonymous user with seven tab-separated fields (lists joined by ``_``,
    query terms by ``\\x18``)::

        query  candidate_wid_list  candidate_label_list  history_qry_list  history_wid_list
        history_type_list  history_time_list

    The ``n``-th user line (0-based, header excluded; the data has no user id) becomes
    ``user_id="jd-n"``. What is imported:

    - every history behaviour, in order: ``CLICK``→click, ``CART``→cart, ``ORD``→purchase,
      ``FLW`` (follow/favourite) → ``follow_as`` (default click: a stated interest but no
      buying intent; None drops them). Its query (term ids joined by spaces) is kept, or
      None for a query-less behaviour (``-1``).
    - every candidate of the test query with a label > 0 (1 click, 2 cart, 3 purchase; the
      label is the deepest level reached, so one event is made at that level) with the
      test query text.

    Times: the data holds only gaps between consecutive behaviours, in seconds
    (``history_time_list`` has one more entry than the history: the last is the gap to the
    test query). Absolute dates are not published, so the test query is put at
    ``anchor_ts`` and the history is laid out backwards from it with the real gaps: order
    and spacing are true, calendar dates are not.

    A directory is searched for ``user_behavior_data*.txt`` then ``release_data*.txt``. A
    header line (first field ``query``) is skipped. A line is taken whole or not at all.
    """
    path = _jd_file(Path(path_or_dir))

    def is_header(n: int, line: str) -> bool:
        return n == 1 and line.split("\t", 1)[0].strip() == "query"

    return _parse_lines(path, _jd_parser(anchor_ts, follow_as), limit, skip=is_header)


# -- generic CSV / JSONL -----------------------------------------------------------------------

_FIELDS = ("user_id", "session_id", "product_id", "type", "query", "ts")
_ID_FIELDS = ("user_id", "session_id", "product_id")


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _seconds(x: float) -> float:
    if x > 1e11:  # see shoprank.types.event_time_problem: milliseconds are refused, never guessed
        raise ValueError(f"ts: {x:.0f} looks like milliseconds; give Unix seconds")
    return x


def _parse_ts(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"ts: not a time: {v!r}")
    if isinstance(v, (int, float)):
        return _seconds(float(v))
    s = str(v).strip()
    try:
        number = float(s)
    except ValueError:
        pass
    else:
        return _seconds(number)
    try:  # ISO 8601 ("2024-03-01T12:00:00Z"); a time without zone is taken as UTC
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"ts: not Unix seconds or an ISO 8601 time: {v!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def row_to_event(row: dict[str, Any]) -> Event:
    """Validate one log row (columns named like :class:`Event`'s fields) into an Event."""
    data: dict[str, Any] = {}
    for name in _FIELDS:
        v = row.get(name)
        if _blank(v):
            continue
        if name in _ID_FIELDS:
            if isinstance(v, float) and v.is_integer():  # 123.0 from a numeric column means "123"
                v = int(v)
            v = str(v).strip()
        elif name == "type":
            v = normalize_event_type(v)
        elif name == "ts":
            v = _parse_ts(v)
        elif name == "query":
            v = str(v)
        data[name] = v
    return Event.model_validate(data)


def _csv_rows(f: TextIO) -> Rows:
    return csv_rows(f, lower_header=True)


_LOG_READERS = {".csv": _csv_rows, ".jsonl": jsonl_rows, ".ndjson": jsonl_rows, ".json": jsonl_rows}


def load_event_log(path: str | Path) -> ImportedEvents:
    """Import a generic event log: ``.csv`` (header row) or ``.jsonl``/``.ndjson``, optionally ``.gz``.

    Columns: ``user_id``, ``session_id``, ``product_id``, ``type``, ``query``, ``ts``
    (Unix seconds or ISO 8601). Blank cells are missing values; common type spellings
    (``clicks``, ``add_to_cart``, ``order`` ...) are accepted. Each row is validated with
    :class:`Event`; a bad row becomes a RowError with its line number (CSV: the header is
    line 1) and the other rows are still imported.
    """
    path = Path(path)
    reader = _LOG_READERS.get(_real_suffix(path))
    if reader is None:
        raise ValueError(f"unsupported event log format {path.name!r}; use .csv, .jsonl or .ndjson")
    res = ImportedEvents()
    with _open_text(path) as f:
        for line, row in reader(f):
            if isinstance(row, Exception):
                res.errors.append(RowError(str(path), line, describe_error(row)))
                continue
            try:
                res.events.append(row_to_event(row))
            except (ValueError, TypeError, ValidationError) as e:
                res.errors.append(RowError(str(path), line, describe_error(e)))
    return res


IMPORTERS: dict[str, Callable[..., ImportedEvents]] = {
    "otto": load_otto,
    "jdsearch": load_jdsearch,
    "events": load_event_log,
}
