"""The ``synonym`` rewriter: the index's synonym sets as weighted alternatives of the query.

A term of a set found in the query (a whole word or phrase, any case; a Chinese term anywhere
in a run of Chinese) brings in the set's other terms: the query with that span replaced by each
is searched beside it (BM25, and the dense vector leans towards it). The sets come from the
index's :class:`~shoprank.query.synonym_store.SynonymStore`, editable while serving; they are
compiled once per store version, so a search costs one regular-expression scan.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shoprank.index.analysis import query_terms
from shoprank.query.plan import Rewrite
from shoprank.query.rewriters import IndexStores, QueryRewriter
from shoprank.query.synonym_store import Synonyms, SynonymSet, SynonymStore, normalize_term

if TYPE_CHECKING:
    from shoprank.index.artifacts import IndexArtifacts
    from shoprank.query.plan import QueryPlan

# Beside the query an alternative counts a little less than the query itself: a synonym is a
# reading the shopper did not type (the same weight as the rewriter touch test's, not tuned).
SYNONYM_WEIGHT = 0.8
# Each alternative is one more BM25 query and one more text encoding in the search.
MAX_ALTERNATIVES = 6
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EDGE = r"[\w'-]"  # a Latin term starts and ends at a word's edge: "shirt" is not in "t-shirt"


@dataclass(frozen=True)
class _Compiled:
    """The triggers of one store version, indexed for a scan that costs the same for 10 sets or 10,000."""

    version: int
    sets_of: dict[str, list[SynonymSet]]  # normalized trigger -> the sets it triggers
    by_first_word: dict[str, list[tuple[str, ...]]]  # Latin triggers as words, longest first
    cjk: list[str]  # Chinese triggers: found anywhere in a run of Chinese
    other: re.Pattern[str] | None  # the few triggers with other characters ("c++")

    def find(self, text: str) -> list[tuple[int, int]]:
        """Spans of ``text`` that are triggers: non-overlapping, the longest where two start together."""
        lower = text.lower()
        spans = []
        words = [(m.start(), m.end(), m.group(0)) for m in _WORD.finditer(lower)]
        for i, (start, _, word) in enumerate(words):
            for phrase in self.by_first_word.get(word, ()):
                if tuple(w for _, _, w in words[i:i + len(phrase)]) == phrase:
                    spans.append((start, words[i + len(phrase) - 1][1]))
        for term in self.cjk:
            at = lower.find(term)
            while at >= 0:
                spans.append((at, at + len(term)))
                at = lower.find(term, at + 1)
        if self.other is not None:
            spans += [(m.start(), m.end()) for m in self.other.finditer(text)]
        out: list[tuple[int, int]] = []
        for start, end in sorted(spans, key=lambda se: (se[0], -se[1])):
            if not out or start >= out[-1][1]:
                out.append((start, end))
        return out


_WORD = re.compile(r"[\w'-]+")


def _term_pattern(term: str) -> str:
    body = r"\s+".join(re.escape(w) for w in term.split())
    return rf"(?<!{_EDGE}){body}(?!{_EDGE})"


def compile_sets(synonyms: Synonyms) -> _Compiled:
    """Index every trigger of ``synonyms`` by how it is found in a query."""
    sets_of: dict[str, list[SynonymSet]] = {}
    for s in synonyms.sets.values():
        for t in s.triggers:
            sets_of.setdefault(normalize_term(t), []).append(s)
    by_first: dict[str, list[tuple[str, ...]]] = {}
    cjk, other = [], []
    for t in sets_of:
        words = tuple(_WORD.findall(t))
        if _CJK.search(t):
            cjk.append(t)
        elif " ".join(words) == t:
            by_first.setdefault(words[0], []).append(words)
        else:
            other.append(t)
    for phrases in by_first.values():
        phrases.sort(key=len, reverse=True)
    pattern = re.compile("|".join(_term_pattern(t) for t in sorted(other, key=len, reverse=True)),
                         re.IGNORECASE) if other else None
    return _Compiled(synonyms.version, sets_of, by_first, cjk, pattern)


def _splice(text: str, start: int, end: int, term: str) -> str:
    """``text`` with ``[start, end)`` replaced by ``term``, spaced from neighbouring words of another script."""
    before, after = text[:start], text[end:]
    if before and not before[-1].isspace() and bool(_CJK.search(before[-1])) != bool(_CJK.search(term[0])):
        term = " " + term
    if after and not after[0].isspace() and bool(_CJK.search(after[0])) != bool(_CJK.search(term[-1])):
        term = term + " "
    return " ".join((before + term + after).split())


def _idf_reference(typed: str, term: str) -> tuple[tuple[str, str], ...]:
    """A one-word synonym of a one-word query term scores with at most the term's IDF (a rare
    synonym must not outscore what was typed); phrases keep their own."""
    a, b = query_terms(typed), query_terms(term)
    return ((b[0], a[0]),) if len(a) == 1 and len(b) == 1 and a != b else ()


def synonym_rewrites(text: str, compiled: _Compiled, limit: int = MAX_ALTERNATIVES) -> list[Rewrite]:
    """The alternatives of ``text`` the compiled sets give, at most ``limit``, in query order."""
    out: dict[str, Rewrite] = {}
    for start, end in compiled.find(text):
        typed = text[start:end]
        found = normalize_term(typed)
        for s in compiled.sets_of.get(found, []):
            for term in s.terms:
                if normalize_term(term) == found:
                    continue
                alt = _splice(text, start, end, term)
                arrow = "→" if s.input is not None else "="
                if alt.lower() != text.lower() and alt not in out:
                    out[alt] = Rewrite(alt, "synonym", SYNONYM_WEIGHT, reason=f"{typed} {arrow} {term}",
                                       idf_from=_idf_reference(typed, term))
                if len(out) >= limit:
                    return list(out.values())
    return list(out.values())


class SynonymRewriter(QueryRewriter):
    """Adds the other terms of each synonym set the query names (see the module)."""

    name = "synonym"

    def __init__(self, store: SynonymStore | None = None):
        self.store = store  # None until the engine binds its index's store: no synonyms
        self._compiled = _Compiled(-1, {}, {}, [], None)
        self._lock = threading.Lock()

    def bind(self, stores: IndexStores) -> None:
        self.store = stores.synonyms
        self._compiled = _Compiled(-1, {}, {}, [], None)

    def _current(self) -> _Compiled:
        assert self.store is not None
        synonyms = self.store.sets()
        compiled = self._compiled
        if compiled.version != synonyms.version:
            with self._lock:  # one search compiles a new version; the others wait for it
                if self._compiled.version != synonyms.version:
                    self._compiled = compile_sets(synonyms)
                compiled = self._compiled
        return compiled

    def rewrite(self, plan: QueryPlan, artifacts: IndexArtifacts) -> list[Rewrite]:
        if self.store is None or not plan.text:
            return []
        return synonym_rewrites(plan.text, self._current())
