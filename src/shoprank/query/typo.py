"""Typo tolerance: misspelled query words corrected to the served catalog's own words.

Candidates come from SymSpell (symmetric delete; Garbe 2012, ``symspellpy``) over the words of
the catalog's titles, attribute values and categories, each counted once per product, and of
past queries that led to clicks. SymSpell was chosen over tantivy's fuzzy term query because
tantivy-py returns the documents a fuzzy term matches, never the terms, so it cannot say what
to correct *to* or how common each candidate is; a SymSpell lookup also takes a few microseconds.

The rules, as Meilisearch's: no typo in a word under 5 characters, 1 from 5, 2 from 9
(:func:`allowed_edits`); the first letter is kept; a transposition is one edit (optimal string
alignment distance). A word is never corrected when it holds a digit (numbers, sizes, model
numbers, SKUs), is not Latin script, or is known: a catalog word, one with a known stem
(plurals), a description word, a word the query parser reads (colours, sizes, genders,
product types), or a common English word (:data:`ENGLISH_MIN_COUNT`).

A correction is *confident* when every corrected word has a single best candidate at its
smallest distance (or one :data:`MARGIN` times as common as the next): it then replaces the
text. Otherwise the best and the runner-up readings are searched beside the query at
:data:`ALT_WEIGHT` and half of it.

The vocabulary is built on a served catalog's first query and kept current as the catalog
grows (live appends are taken in on the next query, a few products at a time); words of dropped
or rewritten products stay known, which can only keep a word from being corrected. Past queries
that led to clicks, carts or purchases (those autocomplete may offer: used by several shoppers)
add their words too, read at most once a second.
"""
from __future__ import annotations

import functools
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from shoprank.catalog.vocabulary import COLORS, GENDERS, PRODUCT_TYPES, SIZES
from shoprank.index.analysis import stemmed_terms
from shoprank.query.plan import QueryPlan, Rewrite
from shoprank.query.rewriters import IndexStores, QueryLog, QueryRewriter
from shoprank.registry import MissingExtraError

if TYPE_CHECKING:
    from symspellpy import SymSpell

    from shoprank.index.artifacts import IndexArtifacts
    from shoprank.types import Product

# A word of Latin letters (accents allowed); anything else in a query is left alone.
_TOKEN = re.compile(r"\w+", re.UNICODE)
_LATIN = re.compile(r"[a-zà-ÿ]+")
MIN_ONE_TYPO, MIN_TWO_TYPOS = 5, 9
MARGIN = 3.0      # how much more common the best candidate must be than the next to be sure
ALT_WEIGHT = 0.8  # an unsure correction's weight beside the query
MIN_PART, MIN_PART_USES = 3, 3  # letters of each word a run-together word splits into; products using it
QUERIES_RECHECK_S = 1.0  # how often new past queries are taken into the vocabulary
DESCRIPTION_CHARS = 1000  # of each description, read for known words and candidates (cost at build)
DESCRIBED_MIN = 3  # descriptions a word must be in to be a correction (one-offs are often typos)
# Common English words are never corrected, even where the catalog lacks them ("skill saw" is no
# "spill saw"): those at least this frequent in the English dictionary symspellpy ships (Google
# Books counts; 1e6 keeps ~20k words). Rarer ones are often real-word typos ("sower head").
ENGLISH_MIN_COUNT = 1_000_000
_PARSED_WORDS = frozenset(w for table in (COLORS, GENDERS, SIZES, PRODUCT_TYPES) for ws in table.values()
                          for phrase in ws for w in _TOKEN.findall(phrase.lower()))


def allowed_edits(word: str) -> int:
    """Edits a word of this length may be corrected by: 0 under 5 characters, 1 from 5, 2 from 9."""
    n = len(word)
    return 0 if n < MIN_ONE_TYPO else 1 if n < MIN_TWO_TYPOS else 2


def correctable(word: str) -> bool:
    """Long enough, Latin letters only (never a number, size, model number or SKU)."""
    return allowed_edits(word) > 0 and _LATIN.fullmatch(word) is not None


@dataclass(frozen=True)
class Correction:
    word: str
    best: str
    edits: int
    sure: bool
    runner_up: str | None = None


@functools.lru_cache(maxsize=2)
def english_counts(min_count: int = ENGLISH_MIN_COUNT) -> dict[str, int]:
    """English words of at least ``min_count`` occurrences (symspellpy's dictionary, 82,765
    words, Google Books counts)."""
    import symspellpy

    path = Path(symspellpy.__file__).parent / "frequency_dictionary_en_82_765.txt"
    with open(path, encoding="utf-8") as f:
        rows = (line.split() for line in f)
        return {r[0]: int(r[1]) for r in rows if len(r) == 2 and int(r[1]) >= min_count}


@functools.lru_cache(maxsize=2)
def english(min_count: int = ENGLISH_MIN_COUNT) -> frozenset[str]:
    return frozenset(english_counts(min_count))


@functools.lru_cache(maxsize=1)
def english_symspell() -> SymSpell:
    """SymSpell over the common English words: corrections where the catalog has no word near
    ("fulid" → "fluid" in a catalog without fluids: the dense retriever reads it better). Built
    once per process, on the first word the catalog cannot correct."""
    from symspellpy import SymSpell

    sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    for w, n in english_counts().items():
        if correctable(w):
            sym.create_dictionary_entry(w, n)
    return sym


def common_english() -> frozenset[str]:
    return english(ENGLISH_MIN_COUNT)


class Vocabulary:
    """The catalog's words with how many products use each, and a SymSpell index over them."""

    def __init__(self) -> None:
        from symspellpy import SymSpell

        self.counts: Counter[str] = Counter()
        self.described: Counter[str] = Counter()  # products whose description uses each word
        self.known: set[str] = set(_PARSED_WORDS | common_english())
        self.stems: dict[str, int] = {}  # stem of a catalog word -> the shortest such word's length
        self.n = 0  # catalog positions taken in
        self.queries_version = -1  # of the query log taken in
        self.queries: set[str] = set()
        self.symspell: SymSpell = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)

    def extend(self, products: Sequence[Product]) -> None:
        seen: Counter[str] = Counter()  # products using each word
        described: Counter[str] = Counter()
        for p in products:
            text = " ".join([p.title, p.category, *(v for vals in p.attributes.values() for v in vals)])
            seen.update(set(_TOKEN.findall(text.lower())))
            described.update(set(_TOKEN.findall(p.description[:DESCRIPTION_CHARS].lower())))
        self._add(seen)
        self.known.update(described)
        for w, n in described.items():
            before = self.described[w]
            self.described[w] = before + n
            # A word several descriptions use is a correction too, after any title word as close.
            if before < DESCRIBED_MIN <= before + n and not self.counts[w] and correctable(w):
                self.symspell.create_dictionary_entry(w, 1)
        self.n += len(products)

    def add_queries(self, queries: Iterable[str]) -> None:
        """Take in the words of past queries that led to clicks: shoppers' own words (a brand,
        a trade name the catalog spells otherwise) are then known, and corrected to."""
        seen: Counter[str] = Counter()  # new queries using each word
        for q in queries:
            key = q.casefold()
            if key not in self.queries:
                self.queries.add(key)
                seen.update(set(_TOKEN.findall(key)))
        self._add(seen)

    def _add(self, seen: Counter[str]) -> None:
        new = [w for w in seen if w not in self.counts]
        self.counts.update(seen)
        for w in new:
            if correctable(w) and self.described[w] < DESCRIBED_MIN:  # else entered already
                self.symspell.create_dictionary_entry(w, 1)  # SymSpell's counts are unused: ours are per product
            for stem in stemmed_terms(w):
                self.stems[stem] = min(self.stems.get(stem, len(w)), len(w))
        self.known.update(new)

    def is_known(self, word: str) -> bool:
        """A known word, or a form of a catalog word's stem: an English word ("bobcat" beside
        "bobcats") or one at least as long as that catalog word (not "ridg", cut from "ridge":
        it stems alike)."""
        return word in self.known or any(s in self.stems and (len(word) >= self.stems[s] or word in english(1))
                                         for s in stemmed_terms(word))

    def _rank(self, term: str) -> tuple[int, int]:
        """How likely a candidate is meant: products whose titles use it, then descriptions."""
        return self.counts[term], self.described[term]

    def correct(self, word: str) -> Correction | None:
        """The catalog word ``word`` most likely meant, or None to leave it as typed."""
        from symspellpy import Verbosity

        if not correctable(word) or self.is_known(word):
            return None
        found = [s for s in self.symspell.lookup(word, Verbosity.ALL, max_edit_distance=allowed_edits(word))
                 if s.term[0] == word[0] and s.term != word]
        if not found or min(s.distance for s in found) > 1:
            split = self.split(word)  # a missing space is one edit: it goes before two-edit candidates
            if split is not None:
                return split
        if not found:
            return _english_correction(word)
        d = min(s.distance for s in found)
        closest = sorted((s.term for s in found if s.distance == d), key=lambda t: (*(-n for n in self._rank(t)), t))
        best = closest[0]
        runner = closest[1] if len(closest) > 1 else None
        sure = runner is None or _ahead(self._rank(best), self._rank(runner))
        return Correction(word, best, d, sure, runner)

    def split(self, word: str) -> Correction | None:
        """``word`` as two catalog words run together ("nailgun" → "nail gun"), each of at
        least :data:`MIN_PART` letters and used by :data:`MIN_PART_USES` products; the most used
        pair wins (sure by :data:`MARGIN`). An English word is never split ("cupboards")."""
        if word in english(1):
            return None
        pairs = []
        for i in range(MIN_PART, len(word) - MIN_PART + 1):
            a, b = word[:i], word[i:]
            n = min(self.counts[a], self.counts[b])
            if n >= MIN_PART_USES:
                pairs.append((n, f"{a} {b}"))
        if not pairs:
            return None
        pairs.sort(key=lambda p: (-p[0], p[1]))
        runner = pairs[1] if len(pairs) > 1 else None
        sure = runner is None or pairs[0][0] >= MARGIN * runner[0]
        return Correction(word, pairs[0][1], 1, sure, runner[1] if runner else None)


def _english_correction(word: str) -> Correction | None:
    from symspellpy import Verbosity

    if word in english(1):  # an English word the catalog lacks: nothing says it is wrong
        return None
    found = [s for s in english_symspell().lookup(word, Verbosity.CLOSEST, max_edit_distance=allowed_edits(word))
             if s.term[0] == word[0] and s.term != word]
    if not found:
        return None
    found.sort(key=lambda s: (-s.count, s.term))
    runner = found[1] if len(found) > 1 else None
    sure = runner is None or found[0].count >= MARGIN * runner.count
    return Correction(word, found[0].term, found[0].distance, sure, runner.term if runner else None)


def _ahead(best: tuple[int, int], runner: tuple[int, int]) -> bool:
    """``best`` is :data:`MARGIN` times as used as ``runner`` (title uses first, then descriptions)."""
    if best[0] or runner[0]:
        return best[0] >= MARGIN * runner[0]
    return best[1] >= MARGIN * runner[1]


def corrections(text: str, vocab: Vocabulary) -> list[Correction]:
    return [c for w in _TOKEN.findall(text.lower()) if (c := vocab.correct(w)) is not None]


def _apply(text: str, swap: dict[str, str]) -> str:
    return _TOKEN.sub(lambda m: swap.get(m.group(0).lower(), m.group(0)), text)


def typo_rewrites(text: str, vocab: Vocabulary) -> list[Rewrite]:
    """The corrections of ``text``: one replacing rewrite when all are sure, else alternatives."""
    found = corrections(text, vocab)
    if not found:
        return []
    edits = sum(c.edits for c in found)
    reason = ", ".join(f"{c.word} → {c.best}: {c.edits} edit{'s' if c.edits > 1 else ''}" for c in found)
    best = _apply(text, {c.word: c.best for c in found})
    if all(c.sure for c in found):
        return [Rewrite(best, "typo", 1.0, replaces=True, reason=reason, edits=edits)]
    out = [Rewrite(best, "typo", ALT_WEIGHT, reason=reason, edits=edits)]
    unsure = [c for c in found if c.runner_up is not None and not c.sure]
    if unsure:
        second = _apply(text, {c.word: c.runner_up or c.best if c in unsure else c.best for c in found})
        why = ", ".join(f"{c.word} → {c.runner_up}" for c in unsure)
        # The runner-up is the rarer word: scored with the common one's IDF, not its own.
        idf_from = tuple((c.runner_up, c.best) for c in unsure if c.runner_up is not None)
        out.append(Rewrite(second, "typo", ALT_WEIGHT / 2, reason=why, edits=edits, idf_from=idf_from))
    return out


class TypoRewriter(QueryRewriter):
    """Corrects misspelled words to the served catalog's vocabulary (see the module's docstring)."""

    name = "typo"

    def __init__(self) -> None:
        try:
            import symspellpy  # noqa: F401  (used by Vocabulary; checked here, when the rewriter is chosen)
        except ImportError as e:
            raise MissingExtraError(f"the query rewriter 'typo' needs pip install 'shoprank[query]' ({e})") from e
        self._lock = threading.Lock()
        # One vocabulary per served artifacts (a reload serves new ones): weakly held, built on first use.
        self._vocab: weakref.WeakKeyDictionary[object, Vocabulary] = weakref.WeakKeyDictionary()
        self._query_log: Callable[[], QueryLog | None] = lambda: None
        self._queries_read = -QUERIES_RECHECK_S  # monotonic time the query log was last read

    def bind(self, stores: IndexStores) -> None:
        self._query_log = stores.query_log

    def vocabulary(self, artifacts: IndexArtifacts) -> Vocabulary:
        products = artifacts.catalog.products
        key = artifacts.catalog
        vocab = self._vocab.get(key)
        log = self._query_log()
        # New past queries arrive with events: read them at most once a second.
        queries_due = (log is not None and vocab is not None and vocab.queries_version != log.queries_version
                       and time.monotonic() - self._queries_read >= QUERIES_RECHECK_S)
        if vocab is None or vocab.n < len(products) or queries_due:
            with self._lock:
                vocab = self._vocab.get(key) or Vocabulary()
                if vocab.n < len(products):
                    vocab.extend(products[vocab.n:len(products)])
                if log is not None and vocab.queries_version != log.queries_version:
                    vocab.queries_version = log.queries_version
                    vocab.add_queries(log.past_queries())
                    self._queries_read = time.monotonic()
                self._vocab[key] = vocab
        return vocab

    def rewrite(self, plan: QueryPlan, artifacts: IndexArtifacts) -> list[Rewrite]:
        if not plan.text or not plan.typo_tolerance:
            return []
        return typo_rewrites(plan.text, self.vocabulary(artifacts))


__all__ = ["Correction", "TypoRewriter", "Vocabulary", "allowed_edits", "correctable", "typo_rewrites"]
