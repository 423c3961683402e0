"""Autocomplete: completions of what the shopper has typed so far.

Sources, best first: past queries that led to an event (they found something), category
names, product titles (one per model, variants folded). A suggestion matches when the
typed text is a prefix of the suggestion or of one of its words; Chinese text, which has
no spaces, matches anywhere.
"""
from __future__ import annotations

import bisect
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
                name = leaf if top == leaf else f"{top} {CATEGORY_SEP} {leaf}"
                counts[name] = counts.get(name, 0) + 1
                paths.setdefault(name, path)
        self._static: list[Suggestion] = [Suggestion(n, "category", c, category=paths[n]) for n, c in counts.items()]
        titles: dict[str, Suggestion] = {}
        for p in products:
            if p.parent_id is None or p.parent_id not in catalog:  # one entry per model
                titles.setdefault(_norm(p.title), Suggestion(p.title, "product", float(p.review_count), p.id))
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
        """Lookup keys (the text, and the text from each later word on) and the Chinese entries."""
        keys: list[tuple[str, int]] = []
        cjk: list[int] = []
        for i, s in enumerate(entries, first):
            text = _norm(s.text)
            keys.append((text, i))
            for m in _WORD.finditer(text):
                if m.start() > 0:
                    keys.append((text[m.start():], i))
            if _CJK.search(text):
                cjk.append(i)
        return keys, cjk

    def update_queries(self, queries: Mapping[str, int]) -> None:
        """Replace the past-query source (``{query: times searched}``)."""
        entries = [Suggestion(q.strip(), "query", float(n)) for q, n in queries.items() if q.strip()]
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
        lo = bisect.bisect_left(self._keys, (q, -1))
        for key, i in self._keys[lo:]:
            if not key.startswith(q):
                break
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
