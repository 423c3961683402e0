"""The ``pinyin`` rewriter: a query typed in pinyin ("beibao", "bei bao", "nvshi yujiaku",
"bēi bāo", "bei1 bao1") searched as the catalog's Chinese words ("背包", "女士瑜伽裤").

The words are the Chinese of the served catalog's titles and categories, split at the Chinese
words of :mod:`shoprank.catalog.vocabulary` (product types, colours, genders), and those words
themselves; each is keyed by its toneless pinyin (``pypinyin``, "v" for ü). A Latin-only query
whose letters segment wholly into such keys (fewest words, then the most frequent) is replaced
by the words, written together as Chinese is ("hongse beibao" → "红色背包"); anything else is
left alone. So it never fires on English: an English query's words would have to spell catalog
Chinese syllable by syllable ("bag", "pants" do not), and a query with a word the catalog itself
uses in Latin script ("men") is never read as pinyin.

The vocabulary is built on the first query over a catalog and extended with the products a live
write appends (a deleted product's words stay until the next generation).
"""
from __future__ import annotations

import re
import threading
import unicodedata
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pypinyin import Style, lazy_pinyin

from shoprank.catalog.vocabulary import COLORS, GENDERS, PRODUCT_TYPES
from shoprank.query.plan import Rewrite
from shoprank.query.rewriters import QueryRewriter

if TYPE_CHECKING:
    from shoprank.catalog import Catalog
    from shoprank.index.artifacts import IndexArtifacts
    from shoprank.query.plan import QueryPlan
    from shoprank.types import Product

_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z]+")
_TOKEN = re.compile(r"(?:[a-z]+[1-5]?)+")  # letters, each syllable maybe with its tone number
MAX_LETTERS = 60  # longer Latin queries are sentences, not pinyin


def _vocabulary_words() -> list[str]:
    """In table order: of two words spelled alike and as frequent, the one listed first reads."""
    tables = (COLORS, GENDERS, PRODUCT_TYPES)
    return list(dict.fromkeys(w for table in tables for words in table.values() for w in words
                              if _CJK_RUN.fullmatch(w)))


def syllables(word: str) -> list[str] | None:
    """The toneless pinyin syllables of ``word`` ("v" for ü), None when one is not plain letters."""
    out = lazy_pinyin(word, style=Style.NORMAL)
    return out if all(_LATIN_WORD.fullmatch(s) for s in out) else None


def split_run(run: str, known: set[str], longest: int) -> list[str]:
    """``run`` cut at the known words in it (longest first, left to right); the rest are words too."""
    out, rest, i = [], "", 0
    while i < len(run):
        hit = next((run[i:i + n] for n in range(min(longest, len(run) - i), 0, -1) if run[i:i + n] in known), None)
        if hit is None:
            rest, i = rest + run[i], i + 1
            continue
        if rest:
            out.append(rest)
        out.append(hit)
        rest, i = "", i + len(hit)
    return [*out, rest] if rest else out


@dataclass
class _Word:
    chinese: str
    ends: frozenset[int]  # where its syllables end, as offsets in its key
    count: int = 0


@dataclass
class PinyinVocabulary:
    """Pinyin keys of the Chinese words of one catalog, and the Latin words it uses."""

    words: dict[str, _Word] = field(default_factory=dict)
    latin: set[str] = field(default_factory=set)
    scanned: int = 0  # catalog positions read so far
    longest_key: int = 0

    def __post_init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._spelled: set[str] = set()  # keys some word spells exactly
        words = _vocabulary_words()
        self._known = set(words)
        self._longest = max(map(len, words))
        self.add_words(words)

    def add_words(self, words: Iterable[str], n: int = 1) -> None:
        """Count ``words`` ``n`` times more; a key spelled by several words reads as the most frequent."""
        for w in words:
            sy = syllables(w)
            if not sy:
                continue
            self._counts[w] += n
            key, ends = "".join(sy), frozenset(_ends(sy))
            self._spelled.add(key)
            for k in dict.fromkeys((key, key.replace("v", "u"))):  # "nu" for 女 too, unless a word spells "nu"
                cur = self.words.get(k)
                if k != key and k in self._spelled:
                    continue
                if cur is None or cur.chinese == w or self._counts[w] > cur.count:
                    self.words[k] = _Word(w, ends, self._counts[w])
            self.longest_key = max(self.longest_key, len(key))

    def extend(self, products: Iterable[Product]) -> None:
        found: Counter[str] = Counter()
        for p in products:
            text = " ".join([p.title, *p.categories])
            self.latin.update(_LATIN_WORD.findall(text.lower()))
            for run in _CJK_RUN.findall(text):
                found.update({run, *split_run(run, self._known, self._longest)})
            self.scanned += 1
        for w, n in found.items():
            self.add_words([w], n)


def _ends(sy: list[str]) -> list[int]:
    out, at = [], 0
    for s in sy:
        at += len(s)
        out.append(at)
    return out


def normalize(text: str) -> tuple[str, set[int], list[str]] | None:
    """The query's letters run together, the offsets where it had word breaks, and its words;
    None unless it is Latin letters only (tone marks and tone numbers allowed)."""
    text = re.sub("[üǖǘǚǜ]", "v", text.lower().replace("'", " "))
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    tokens = text.split()
    if not tokens or not all(_TOKEN.fullmatch(t) for t in tokens):
        return None
    words = [re.sub("[1-5]", "", t) for t in tokens]
    letters, breaks = "", set()
    for w in words:
        if letters:
            breaks.add(len(letters))
        letters += w
    return letters, breaks, words


def segment(letters: str, breaks: set[int], vocab: PinyinVocabulary) -> list[tuple[int, _Word]] | None:
    """``letters`` as catalog words (fewest, then most frequent), each with where it starts;
    a word break the shopper typed must fall between syllables. None when it does not segment."""
    n = len(letters)
    # best[j]: (words, -count, where the last word starts, the last word) of the best cut of letters[:j]
    none: tuple[int, int, int, _Word | None] = (n + 1, 0, 0, None)
    best = [(0, 0, 0, None), *[none] * n]
    for j in range(1, n + 1):
        for i in range(max(0, j - vocab.longest_key), j):
            if best[i][0] > n:
                continue
            w = vocab.words.get(letters[i:j])
            if w is None or any(b - i not in w.ends for b in breaks if i < b < j):
                continue
            cand = (best[i][0] + 1, best[i][1] - w.count, i, w)
            if cand[:2] < best[j][:2]:
                best[j] = cand
    if best[n][0] > n:
        return None
    out, j = [], n
    while j > 0:
        _, _, i, w = best[j]
        assert w is not None
        out.append((i, w))
        j = i
    return out[::-1]


class PinyinRewriter(QueryRewriter):
    """Replaces a pinyin query by the catalog's Chinese words (see the module)."""

    name = "pinyin"

    def __init__(self) -> None:
        self._catalog: weakref.ref[Catalog] | None = None
        self._vocab = PinyinVocabulary()
        self._lock = threading.Lock()

    def vocabulary(self, catalog: Catalog) -> PinyinVocabulary:
        """The vocabulary of ``catalog``, read up to its last position (a new catalog: from scratch)."""
        with self._lock:
            if self._catalog is None or self._catalog() is not catalog:
                self._catalog, self._vocab = weakref.ref(catalog), PinyinVocabulary()
            vocab = self._vocab
            if vocab.scanned < len(catalog):
                vocab.extend(catalog.products[vocab.scanned:])
            return vocab

    def rewrite(self, plan: QueryPlan, artifacts: IndexArtifacts) -> list[Rewrite]:
        read = normalize(plan.text or "")
        if read is None or len(read[0]) > MAX_LETTERS:
            return []
        letters, breaks, words = read
        vocab = self.vocabulary(artifacts.catalog)
        if any(w in vocab.latin for w in words):
            return []
        pieces = segment(letters, breaks, vocab)
        if pieces is None:
            return []
        # Chinese is written without spaces: the shopper's spaces only separated pinyin words.
        text = "".join(w.chinese for _, w in pieces)
        return [Rewrite(text, "pinyin", replaces=True, reason=f"{plan.text} → {text} (pinyin)")]
