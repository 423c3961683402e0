"""Autocomplete: completions of what the shopper has typed so far.

Sources, best first: past queries that led to an event (they found something), category
names, product titles (one per model, variants folded). A suggestion matches when the
typed text is a prefix of the suggestion or of one of its words; Chinese text, which has
no spaces, matches anywhere.
"""
from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from shoprank.catalog import Catalog

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


class Suggester:
    """Prefix lookup over a sorted key list (binary search), rebuilt when queries are added."""

    def __init__(self, catalog: Catalog):
        counts: dict[str, int] = {}
        paths: dict[str, str] = {}
        products = list(catalog.live())
        for p in products:
            for path in p.categories:
                leaf = path.split("/")[-1].strip()
                top = path.split("/")[0].strip()
                name = _clip(leaf if top == leaf else f"{top} {CATEGORY_SEP} {leaf}")
                counts[name] = counts.get(name, 0) + 1
                paths.setdefault(name, path)
        self._static: list[Suggestion] = [Suggestion(n, "category", c, category=paths[n]) for n, c in counts.items()]
        titles: dict[str, Suggestion] = {}
        for p in products:
            if p.parent_id is None or p.parent_id not in catalog:  # one entry per model
                title = _clip(p.title)
                titles.setdefault(_norm(title), Suggestion(title, "product", float(p.review_count), p.id))
        self._static += list(titles.values())
        # Catalog entries come first and never change: index their keys once; past queries
        # are appended after them and re-indexed when they change.
        self._static_keys, self._static_cjk = self._index(self._static, 0)
        self._static_keys.sort()
        self._entries: list[Suggestion] = []
        self._keys: list[tuple[str, int]] = []
        self._cjk: list[int] = []
        self.update_queries({})

    @staticmethod
    def _index(entries: list[Suggestion], first: int) -> tuple[list[tuple[str, int]], list[int]]:
        """Lookup keys (the text, and the text from each of its next words on; at most
        :data:`_KEYS_PER_ENTRY`, of :data:`_KEY_CHARS` each) and the Chinese entries."""
        keys: list[tuple[str, int]] = []
        cjk: list[int] = []
        for i, s in enumerate(entries, first):
            text = _norm(s.text[:4 * _TEXT_CHARS])  # entries are clipped; this bounds any other text
            later = (m.start() for m in _WORD.finditer(text) if m.start() > 0)
            for start in itertools.chain([0], itertools.islice(later, _KEYS_PER_ENTRY - 1)):
                keys.append((text[start:start + _KEY_CHARS], i))
            if _CJK.search(text):
                cjk.append(i)
        return keys, cjk

    def update_queries(self, queries: Mapping[str, int]) -> None:
        """Replace the past-query source (``{query: times searched}``)."""
        entries = [Suggestion(_clip(q), "query", float(n)) for q, n in queries.items() if q.strip()]
        keys, cjk = self._index(entries, len(self._static))
        keys.sort()
        keys = self._static_keys + keys
        keys.sort()  # two sorted runs: the sort merges them in linear time
        self._entries = self._static + entries
        self._keys, self._cjk = keys, self._static_cjk + cjk

    def suggest(self, prefix: str, k: int = 8) -> list[Suggestion]:
        q = _norm(prefix)
        if not q:
            return []
        hits: set[int] = set()
        probe = q[:_KEY_CHARS]
        lo = bisect.bisect_left(self._keys, (probe, -1))
        for key, i in self._keys[lo:]:
            if not key.startswith(probe):
                break
            if len(q) <= _KEY_CHARS or q in _norm(self._entries[i].text):
                hits.add(i)
        if _CJK.search(q):
            hits.update(i for i in self._cjk if q in _norm(self._entries[i].text))
        ranked = sorted((self._entries[i] for i in hits),
                        key=lambda s: (_KIND_RANK[s.kind], not _norm(s.text).startswith(q), -s.weight, s.text))
        out: list[Suggestion] = []
        seen: set[str] = set()
        for s in ranked:
            if _norm(s.text) not in seen:
                seen.add(_norm(s.text))
                out.append(s)
            if len(out) >= k:
                break
        return out
