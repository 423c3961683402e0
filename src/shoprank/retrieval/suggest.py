"""Autocomplete: completions of what the shopper has typed so far.

Sources, best first: past queries that led to an event (they found something), category
names, product titles (one per model, variants folded). A suggestion matches when the
typed text is a prefix of the suggestion or of one of its words; Chinese text, which has
no spaces, matches anywhere.

The catalog entries follow catalog writes (the suggester is a per-product state, see
:mod:`shoprank.index.state`): a new product adds its title and counts in its categories, a
deleted one takes them back, without rebuilding the rest.
"""
from __future__ import annotations

import bisect
import itertools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from shoprank.catalog import Catalog
from shoprank.types import Product

SuggestionKind = Literal["query", "category", "product"]
_KIND_RANK = {"query": 0, "category": 1, "product": 2}
_CJK = re.compile(r"[\u4e00-\u9fff]")
CATEGORY_SEP = "›"
_WORD = re.compile(r"[\w\u4e00-\u9fff][\w'\-\u4e00-\u9fff]*")
# Per entry, bounded whatever the text: a key a word-suffix of the whole text made the keys of
# one 900 KB title quadratic (gigabytes). A suggestion shows at most _TEXT_CHARS of its text; it
# is found from its start and its next _KEYS_PER_ENTRY - 1 words; a key holds _KEY_CHARS, and a
# longer typed prefix is checked against the text itself.
_TEXT_CHARS = 200
_KEYS_PER_ENTRY = 16
_KEY_CHARS = 48


@dataclass(frozen=True, slots=True)
class Suggestion:
    text: str
    kind: SuggestionKind
    weight: float  # how often searched, or how many products sit under it
    product_id: str | None = None  # for product suggestions: open the product directly
    category: str | None = None  # for category suggestions: the path to browse ("Bags/Backpacks")


def _norm(s: str) -> str:
    # A category reads "Bags › Backpacks" but is typed "bags back...": the separator is not a word.
    return " ".join(s.lower().replace(CATEGORY_SEP, " ").split())


def _clip(s: str) -> str:
    """At most :data:`_TEXT_CHARS` of ``s``, cut at a word end where there is one."""
    s = s.strip()
    if len(s) <= _TEXT_CHARS:
        return s
    cut = s[:_TEXT_CHARS + 1].rsplit(None, 1)[0] if " " in s[:_TEXT_CHARS + 1] else s[:_TEXT_CHARS]
    return cut[:_TEXT_CHARS].rstrip()


def _category_names(p: Product) -> list[tuple[str, str]]:
    """(shown name, path) of each of the product's category paths: "Bags › Backpacks"."""
    out = []
    for path in p.categories:
        leaf = path.split("/")[-1].strip()
        top = path.split("/")[0].strip()
        out.append((_clip(leaf if top == leaf else f"{top} {CATEGORY_SEP} {leaf}"), path))
    return out


def _index(texts: Iterable[tuple[int, str]]) -> tuple[list[tuple[str, int]], list[int]]:
    """Lookup keys of each ``(i, text)`` (the text, and the text from each of its next words on;
    at most :data:`_KEYS_PER_ENTRY`, of :data:`_KEY_CHARS` each), sorted, and which are Chinese."""
    keys: list[tuple[str, int]] = []
    cjk: list[int] = []
    for i, raw in texts:
        text = _norm(raw[:4 * _TEXT_CHARS])  # entries are clipped; this bounds any other text
        later = (m.start() for m in _WORD.finditer(text) if m.start() > 0)
        for start in itertools.chain([0], itertools.islice(later, _KEYS_PER_ENTRY - 1)):
            keys.append((text[start:start + _KEY_CHARS], i))
        if _CJK.search(text):
            cjk.append(i)
    keys.sort()
    return keys, cjk


def _lookup(runs: Iterable[list[tuple[str, int]]], cjk: Iterable[int], entries: Sequence[Suggestion | None],
            q: str) -> list[Suggestion]:
    """The entries that ``q`` (normalised) matches, found through ``runs`` (sorted key lists)
    or, for Chinese, among the ``cjk`` entries."""
    hits: set[int] = set()
    probe = q[:_KEY_CHARS]
    for keys in runs:
        lo = bisect.bisect_left(keys, (probe, -1))
        for key, i in keys[lo:]:
            if not key.startswith(probe):
                break
            s = entries[i]
            # A prefix longer than a key is checked against the text itself.
            if s is not None and (len(q) <= _KEY_CHARS or q in _norm(s.text)):
                hits.add(i)
    if _CJK.search(q):
        hits.update(i for i in cjk if (s := entries[i]) is not None and q in _norm(s.text))
    return [s for i in hits if (s := entries[i]) is not None]


@dataclass(frozen=True)
class _Keys:
    """The lookup keys, replaced as a whole so a reader sees one consistent set."""

    base: list[tuple[str, int]] = field(default_factory=list)  # catalog entries, sorted
    added: list[tuple[str, int]] = field(default_factory=list)  # catalog entries added since, sorted
    cjk: list[int] = field(default_factory=list)
    queries: list[Suggestion] = field(default_factory=list)
    query_keys: list[tuple[str, int]] = field(default_factory=list)
    query_cjk: list[int] = field(default_factory=list)


Slot = tuple[SuggestionKind, str]  # ("category", shown name) or ("product", normalised title)


class Suggester:
    """Prefix lookup over sorted key lists (binary search). Catalog entries are kept per
    product as the catalog changes (:meth:`extend`, :meth:`refresh`, :meth:`drop`), made on
    the first lookup: until then only the live positions are tracked. Past queries are
    replaced as a whole."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog
        self._lock = threading.Lock()
        self._live: dict[int, Product] = {}  # the positions taken in and not dropped
        self._ids: dict[str, int] = {}
        self._cats: dict[str, list[tuple[int, str]]] = {}  # shown name -> (position, path), in position order
        self._titles: dict[str, list[int]] = {}  # normalised title -> positions, in order
        self._variants: dict[str, list[int]] = {}  # parent id -> positions of its variants
        self._slots: dict[Slot, int] = {}
        self._texts: list[str] = []  # each slot's text (its keys are made from it once)
        self._entries: list[Suggestion | None] = []  # each slot's entry; None: none now (its keys stay)
        self._keys: _Keys | None = None  # None until the first lookup
        self._queries = _Keys()
        self._n = len(catalog.products)
        # Until the first lookup: the positions to take in then (their products read then, as
        # refreshed meanwhile). The live ones now, the catalog's writes add and drop theirs.
        self._pending: dict[int, None] | None = dict.fromkeys(
            range(self._n) if catalog.all_live else (pos for pos in range(self._n) if catalog.is_live(pos)))

    # -- the catalog entries, per product --------------------------------------------------
    def _add(self, pos: int, p: Product, touched: dict[Slot, None]) -> None:
        self._live[pos] = p
        self._ids[p.id] = pos
        for name, path in _category_names(p):
            self._cats.setdefault(name, []).append((pos, path))
            touched["category", name] = None
        title = _norm(_clip(p.title))
        self._titles.setdefault(title, []).append(pos)
        touched["product", title] = None
        if p.parent_id is not None:
            self._variants.setdefault(p.parent_id, []).append(pos)
        for v in self._variants.get(p.id) or ():  # its variants no longer show: the model does
            touched["product", _norm(_clip(self._live[v].title))] = None

    def _take_in(self, positions: Iterable[int]) -> None:
        """The first lookup's work: the pending positions' entries at once (categories, then titles)."""
        products = self._catalog.products
        for pos in positions:
            p = self._live[pos] = products[pos]
            self._ids[p.id] = pos
            for name, path in _category_names(p):
                self._cats.setdefault(name, []).append((pos, path))
            self._titles.setdefault(_norm(_clip(p.title)), []).append(pos)
            if p.parent_id is not None:
                self._variants.setdefault(p.parent_id, []).append(pos)
        self._settle(dict.fromkeys([*(("category", n) for n in self._cats), *(("product", t) for t in self._titles)]))

    def _remove(self, pos: int, touched: dict[Slot, None]) -> None:
        p = self._live.pop(pos, None)
        if p is None:
            return
        if self._ids.get(p.id) == pos:
            del self._ids[p.id]
        for name, path in _category_names(p):
            self._cats[name].remove((pos, path))
            touched["category", name] = None
        title = _norm(_clip(p.title))
        self._titles[title].remove(pos)
        touched["product", title] = None
        if p.parent_id is not None:
            self._variants[p.parent_id].remove(pos)
        for v in self._variants.get(p.id) or ():
            touched["product", _norm(_clip(self._live[v].title))] = None

    def _entry(self, slot: Slot) -> Suggestion | None:
        kind, key = slot
        if kind == "category":
            contributions = self._cats.get(key)
            if not contributions:
                return None
            return Suggestion(key, "category", len(contributions), category=contributions[0][1])
        for pos in self._titles.get(key, []):  # one entry per model: the first product that is no variant of one
            p = self._live[pos]
            if p.parent_id is None or p.parent_id not in self._ids:
                return Suggestion(_clip(p.title), "product", float(p.review_count), p.id)
        return None

    def _settle(self, touched: dict[Slot, None]) -> None:
        """Recompute the touched entries; a new one gets a slot (and keys, once there are any)."""
        new: list[int] = []
        for slot in touched:
            entry = self._entry(slot)
            i = self._slots.get(slot)
            if i is not None:
                self._entries[i] = entry
            elif entry is not None:
                self._slots[slot] = len(self._entries)
                new.append(len(self._entries))
                self._texts.append(entry.text)
                self._entries.append(entry)
        if new and self._keys is not None:
            keys, cjk = _index((i, self._texts[i]) for i in new)
            added = sorted(self._keys.added + keys)  # two sorted runs: merged in linear time
            if len(added) > len(self._keys.base) // 8 + 1024:  # fold in now and then: lookups stay two searches
                self._keys = replace(self._keys, base=sorted(self._keys.base + added), added=[],
                                     cjk=self._keys.cjk + cjk)
            else:
                self._keys = replace(self._keys, added=added, cjk=self._keys.cjk + cjk)

    def extend(self, products: Sequence[Product]) -> None:
        """Products at the next catalog positions: their titles and categories."""
        with self._lock:
            if self._pending is not None:
                self._pending.update(dict.fromkeys(range(self._n, self._n + len(products))))
                self._n += len(products)
                return
            touched: dict[Slot, None] = {}
            for pos, p in enumerate(products, self._n):
                self._add(pos, p, touched)
            self._n += len(products)
            self._settle(touched)

    def refresh(self, positions: Sequence[int]) -> None:
        """Products changed in place: a title's weight is its review count."""
        with self._lock:
            touched: dict[Slot, None] = {}
            for pos in positions:  # before the first lookup there is nothing to change: it reads them then
                if pos in self._live:
                    self._live[pos] = p = self._catalog.products[pos]
                    touched["product", _norm(_clip(p.title))] = None
            self._settle(touched)

    def drop(self, positions: Sequence[int]) -> None:
        """Positions no longer live: their titles and category counts go."""
        with self._lock:
            if self._pending is not None:
                for pos in positions:
                    self._pending.pop(pos, None)
                return
            touched: dict[Slot, None] = {}
            for pos in positions:
                self._remove(pos, touched)
            self._settle(touched)

    def _ready(self) -> _Keys:
        keys = self._keys
        if keys is None:
            with self._lock:
                if self._keys is None:
                    self._take_in(self._pending or {})
                    self._pending = None
                    base, cjk = _index(enumerate(self._texts))
                    self._keys = _Keys(base, [], cjk)
                keys = self._keys
        return keys

    # -- past queries ----------------------------------------------------------------------
    def update_queries(self, queries: Mapping[str, int]) -> None:
        """Replace the past-query source (``{query: times searched}``)."""
        entries = [Suggestion(_clip(q), "query", float(n)) for q, n in queries.items() if q.strip()]
        keys, cjk = _index((i, s.text) for i, s in enumerate(entries))
        self._queries = _Keys(queries=entries, query_keys=keys, query_cjk=cjk)

    def suggest(self, prefix: str, k: int = 8) -> list[Suggestion]:
        q = _norm(prefix)
        if not q:
            return []
        keys, queries = self._ready(), self._queries
        found = _lookup((keys.base, keys.added), keys.cjk, self._entries, q)
        found += _lookup((queries.query_keys,), queries.query_cjk, queries.queries, q)
        ranked = sorted(found, key=lambda s: (_KIND_RANK[s.kind], not _norm(s.text).startswith(q), -s.weight, s.text))
        out: list[Suggestion] = []
        seen: set[str] = set()
        for s in ranked:
            if _norm(s.text) not in seen:
                seen.add(_norm(s.text))
                out.append(s)
            if len(out) >= k:
                break
        return out
