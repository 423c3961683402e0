"""Field-aware BM25: the :class:`LexicalIndex` interface and its tantivy backend."""
from __future__ import annotations

import math
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shoprank.index.analysis import analyze, query_terms, stemmed_terms
from shoprank.modalities import LEXICAL_FIELDS
from shoprank.registry import Registry
from shoprank.types import Product

FIELDS: tuple[str, ...] = tuple(f.name for f in LEXICAL_FIELDS)
BOOSTS: dict[str, float] = {f.name: f.boost for f in LEXICAL_FIELDS}


def product_fields(p: Product) -> dict[str, str]:
    """The text of each searchable field, before analysis."""
    return {f.name: f.text(p) for f in LEXICAL_FIELDS}


class LexicalBuild:
    """A lexical index being built batch by batch (a per-product state: documents are added
    at the next positions, in catalog order); :meth:`finish` makes it searchable.

    This default collects the products and builds them at once; a backend that can add
    documents as they come overrides :meth:`LexicalIndex.builder`."""

    def __init__(self, cls: type[LexicalIndex], path: Path):
        self.cls, self.path = cls, path
        self.products: list[Product] = []

    def extend(self, products: Sequence[Product]) -> None:
        self.products.extend(products)

    def refresh(self, positions: Sequence[int]) -> None:
        """Nothing: a product's indexed text never changes in place."""

    def drop(self, positions: Sequence[int]) -> None:
        """Nothing: readers drop positions that are not live."""

    def finish(self) -> LexicalIndex:
        return self.cls.build(self.products, self.path)


class LexicalIndex(ABC):
    """BM25 over :data:`FIELDS`. Document ``pos`` is the product's row in the catalog."""

    backend: str

    @classmethod
    @abstractmethod
    def build(cls, products: Iterable[Product], path: Path) -> LexicalIndex: ...

    @classmethod
    def builder(cls, path: Path) -> LexicalBuild:
        """An index at ``path`` to build batch by batch."""
        return LexicalBuild(cls, path)

    @classmethod
    @abstractmethod
    def open(cls, path: Path) -> LexicalIndex: ...

    @abstractmethod
    def search(self, text: str, limit: int = 100, fields: Sequence[str] = FIELDS,
               idf_from: Mapping[str, str] | None = None) -> list[tuple[int, float]]:
        """Top ``limit`` (catalog position, BM25 score) for a free-text query.

        ``idf_from`` maps a query word to a reference word: the word is scored with at most the
        reference's IDF (an expansion's rare candidate must not outscore the common one)."""

    @abstractmethod
    def field_scores(self, text: str, positions: Sequence[int]) -> dict[str, dict[int, float]]:
        """BM25 of ``text`` in each field, for the given candidates only."""

    @classmethod
    def in_memory(cls) -> LexicalIndex:
        """An empty index held in memory, for documents added while serving."""
        raise NotImplementedError(f"the {cls.backend} backend cannot add documents while serving")

    def add(self, docs: Sequence[tuple[int, Product]]) -> None:
        """Index ``(position, product)`` pairs; searchable when this returns."""
        raise NotImplementedError(f"the {self.backend} backend cannot add documents while serving")


class LayeredLexicalIndex(LexicalIndex):
    """A built index plus an in-memory one for products added or changed while serving.

    Each half scores BM25 with its own statistics, so an added product's scores are on a
    slightly different scale until a rebuild folds it into the built index. Positions of
    deleted or replaced products still match; the search pipeline drops them."""

    def __init__(self, base: LexicalIndex, first_added: int):
        self.base = base
        self.backend = base.backend
        self.first_added = first_added  # positions from here on are in the added half
        self.added = LEXICAL_INDEXES.get_class(base.backend).in_memory()

    @classmethod
    def build(cls, products: Iterable[Product], path: Path) -> LexicalIndex:
        raise NotImplementedError("a layered index is made by adding to a built one")

    @classmethod
    def open(cls, path: Path) -> LexicalIndex:
        raise NotImplementedError("added documents live in the catalog write log, not in an index folder")

    def add(self, docs: Sequence[tuple[int, Product]]) -> None:
        self.added.add(docs)

    def search(self, text: str, limit: int = 100, fields: Sequence[str] = FIELDS,
               idf_from: Mapping[str, str] | None = None) -> list[tuple[int, float]]:
        hits = self.base.search(text, limit, fields, idf_from) + self.added.search(text, limit, fields, idf_from)
        return sorted(hits, key=lambda h: -h[1])[:limit]

    def field_scores(self, text: str, positions: Sequence[int]) -> dict[str, dict[int, float]]:
        old = [p for p in positions if p < self.first_added]
        new = [p for p in positions if p >= self.first_added]
        out = self.base.field_scores(text, old)
        if new:
            for f, scores in self.added.field_scores(text, new).items():
                out.setdefault(f, {}).update(scores)
        return out


LEXICAL_INDEXES: Registry[LexicalIndex] = Registry("lexical index backend")


def _idf(n: int, df: int) -> float:
    """BM25's IDF, as tantivy computes it."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def _doc_freq(searcher: Any, field: str, word: str) -> int:
    stems = stemmed_terms(word)
    return max((searcher.doc_freq(field, s) for s in stems), default=0)


def _schema() -> Any:
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_integer_field("pos", stored=True, indexed=True, fast=True)
    # The position again as an untokenized string: restricting a query to the candidates is a
    # term set over this field, about twice as fast as one over the integer field.
    sb.add_text_field("pos_key", stored=False, tokenizer_name="raw")
    for f in FIELDS:
        sb.add_text_field(f, stored=False, tokenizer_name="en_stem")
    return sb.build()


def _has_field(index: Any, name: str) -> bool:
    import tantivy

    try:
        tantivy.Query.term_set_query(index.schema, name, ["0"])
    except ValueError:
        return False
    return True


class TantivyLexicalIndex(LexicalIndex):
    """tantivy with its English stemmer over pre-analysed text (CJK as character bigrams)."""

    backend = "tantivy"
    fetch_all = 2000  # see field_scores: up to this many matches a field is searched unrestricted

    def __init__(self, index: Any):
        self._index = index
        # The searcher and the positions of its documents, replaced together when documents are added.
        self._state: tuple[Any, dict[tuple[int, int], int]] = (index.searcher(), {})
        self._lock = threading.Lock()
        self._writer: Any = None
        self._has_key = _has_field(index, "pos_key")  # indexes built before it existed lack it

    @staticmethod
    def _document(pos: int, p: Product) -> Any:
        import tantivy

        return tantivy.Document(pos=pos, pos_key=str(pos), **{k: analyze(v) for k, v in product_fields(p).items()})

    @classmethod
    def in_memory(cls) -> TantivyLexicalIndex:
        import tantivy

        index = tantivy.Index(_schema())
        # Reload when told (after each commit, in add): the default policy's reload stalls ~100 ms.
        index.config_reader(reload_policy="Manual", num_warmers=0)
        return cls(index)

    def add(self, docs: Sequence[tuple[int, Product]]) -> None:
        with self._lock:
            if self._writer is None:
                self._writer = self._index.writer(heap_size=15_000_000, num_threads=1)
            for pos, p in docs:
                self._writer.add_document(self._document(pos, p))
            self._writer.commit()
            self._index.reload()
            self._state = (self._index.searcher(), {})

    @classmethod
    def build(cls, products: Iterable[Product], path: Path) -> TantivyLexicalIndex:
        build = cls.builder(path)
        build.extend(list(products))
        return build.finish()

    @classmethod
    def builder(cls, path: Path) -> _TantivyBuild:
        return _TantivyBuild(path)

    @classmethod
    def open(cls, path: Path) -> TantivyLexicalIndex:
        import tantivy

        return cls(tantivy.Index.open(str(path)))

    @staticmethod
    def _position(searcher: Any, cache: dict[tuple[int, int], int], addr: Any) -> int:
        key = (addr.segment_ord, addr.doc)
        pos = cache.get(key)
        if pos is None:
            pos = cache[key] = int(searcher.doc(addr)["pos"][0])
        return pos

    def _query(self, terms: Sequence[str], fields: Sequence[str]) -> Any:
        return self._index.parse_query(" ".join(terms), list(fields), field_boosts={f: BOOSTS[f] for f in fields})

    def _capped_query(self, searcher: Any, terms: Sequence[str], fields: Sequence[str],
                      idf_from: Mapping[str, str]) -> Any:
        """The query of :meth:`_query`, built term by term and field by field so that a word of
        ``idf_from`` is boosted by ``idf(reference) / idf(word)`` (at most 1) in each field: BM25
        is linear in IDF, so the word then scores with its reference's IDF."""
        import tantivy

        n = searcher.num_docs
        clauses = []
        for t in terms:
            ref = idf_from.get(t)
            for f in fields:
                boost = BOOSTS[f]
                if ref is not None:
                    own, cap = _idf(n, _doc_freq(searcher, f, t)), _idf(n, _doc_freq(searcher, f, ref))
                    boost *= min(1.0, cap / own) if own > 0 else 1.0
                leaf = tantivy.Query.boost_query(self._index.parse_query(t, [f]), boost)
                clauses.append((tantivy.Occur.Should, leaf))
        return tantivy.Query.boolean_query(clauses)

    def search(self, text: str, limit: int = 100, fields: Sequence[str] = FIELDS,
               idf_from: Mapping[str, str] | None = None) -> list[tuple[int, float]]:
        terms = query_terms(text)
        if not terms:
            return []
        searcher, cache = self._state  # one snapshot: addresses are only valid in their searcher
        if idf_from and any(t in idf_from for t in terms):
            query = self._capped_query(searcher, terms, fields, idf_from)
        else:
            query = self._query(terms, fields)
        res = searcher.search(query, limit, count=False)
        return [(self._position(searcher, cache, addr), float(score)) for score, addr in res.hits]

    def field_scores(self, text: str, positions: Sequence[int]) -> dict[str, dict[int, float]]:
        terms = query_terms(text)
        out: dict[str, dict[int, float]] = {f: {} for f in FIELDS}
        if not terms or not positions:
            return out
        searcher, cache = self._state
        wanted = set(positions)
        stems = set(stemmed_terms(" ".join(terms)))
        # A field whose query matches few documents is searched for all of them and the
        # candidates' scores kept; one matching many (a common word in a large catalog) is
        # searched restricted to the candidates, by a term set over their positions, which costs
        # ~6x an unrestricted search of a few matches. The terms' document frequencies bound the
        # matches (the query is their disjunction) without searching.
        cap = max(self.fetch_all, 10 * len(wanted))
        for f in FIELDS:
            bound = sum(searcher.doc_freq(f, t) for t in stems)
            if bound == 0:
                continue
            query = self._index.parse_query(" ".join(terms), [f])
            res = searcher.search(query, bound, count=False) if bound < cap else \
                searcher.search(self._only(query, wanted), len(wanted), count=False)
            scores = out[f]
            for score, addr in res.hits:
                pos = self._position(searcher, cache, addr)
                if pos in wanted:
                    scores[pos] = float(score)
        return out

    def _only(self, query: Any, positions: set[int]) -> Any:
        """``query`` restricted to ``positions``, with its scores unchanged."""
        import tantivy

        only = tantivy.Query.const_score_query(
            tantivy.Query.term_set_query(self._index.schema, "pos_key", [str(p) for p in positions])
            if self._has_key else
            tantivy.Query.term_set_query(self._index.schema, "pos", list(positions)), 0.0)
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)])


class _TantivyBuild(LexicalBuild):
    """Documents go to one writer as batches come, committed once at the end."""

    def __init__(self, path: Path):
        import tantivy

        super().__init__(TantivyLexicalIndex, path)
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        self.index = tantivy.Index(_schema(), path=str(path))
        self.writer = self.index.writer(heap_size=64_000_000, num_threads=1)
        self.n = 0

    def extend(self, products: Sequence[Product]) -> None:
        for pos, p in enumerate(products, self.n):
            self.writer.add_document(TantivyLexicalIndex._document(pos, p))
        self.n += len(products)

    def finish(self) -> TantivyLexicalIndex:
        self.writer.commit()
        self.writer.wait_merging_threads()
        self.index.reload()
        return TantivyLexicalIndex(self.index)


LEXICAL_INDEXES.register("tantivy", TantivyLexicalIndex)
