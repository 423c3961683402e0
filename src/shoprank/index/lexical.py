"""Field-aware BM25: the :class:`LexicalIndex` interface and its tantivy backend."""
from __future__ import annotations

import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from shoprank.index.analysis import analyze, query_terms
from shoprank.registry import Registry
from shoprank.types import Product

FIELDS: tuple[str, ...] = ("title", "description", "category", "attributes", "reviews")
# Multi-field BM25 weights: a title hit says more than a description hit.
BOOSTS: dict[str, float] = {"title": 3.0, "category": 2.0, "attributes": 1.5, "description": 1.0, "reviews": 0.5}


def product_fields(p: Product) -> dict[str, str]:
    """The text of each searchable field, before analysis."""
    return {
        "title": p.title,
        "description": p.description,
        "category": " ".join(c.replace("/", " ") for c in p.categories),
        "attributes": " ".join(f"{k.replace('_', ' ')} {' '.join(v)}" for k, v in p.attributes.items()),
        "reviews": " ".join(f"{r.title} {r.text}" for r in p.reviews),
    }


class LexicalIndex(ABC):
    """BM25 over :data:`FIELDS`. Document ``pos`` is the product's row in the catalog."""

    backend: str

    @classmethod
    @abstractmethod
    def build(cls, products: Iterable[Product], path: Path) -> LexicalIndex: ...

    @classmethod
    @abstractmethod
    def open(cls, path: Path) -> LexicalIndex: ...

    @abstractmethod
    def search(self, text: str, limit: int = 100, fields: Sequence[str] = FIELDS) -> list[tuple[int, float]]:
        """Top ``limit`` (catalog position, BM25 score) for a free-text query."""

    @abstractmethod
    def field_scores(self, text: str, positions: Sequence[int]) -> dict[str, dict[int, float]]:
        """BM25 of ``text`` in each field, for the given candidates only."""


LEXICAL_INDEXES: Registry[LexicalIndex] = Registry("lexical index backend")


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

    def __init__(self, index: Any):
        self._index = index
        self._searcher = index.searcher()
        self._pos: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()
        self._has_key = _has_field(index, "pos_key")  # indexes built before it existed lack it

    @classmethod
    def build(cls, products: Iterable[Product], path: Path) -> TantivyLexicalIndex:
        import tantivy

        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        index = tantivy.Index(_schema(), path=str(path))
        writer = index.writer(heap_size=64_000_000, num_threads=1)
        for pos, p in enumerate(products):
            doc = {"pos": pos, "pos_key": str(pos), **{k: analyze(v) for k, v in product_fields(p).items()}}
            writer.add_document(tantivy.Document(**doc))
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        return cls(index)

    @classmethod
    def open(cls, path: Path) -> TantivyLexicalIndex:
        import tantivy

        return cls(tantivy.Index.open(str(path)))

    def _position(self, addr: Any) -> int:
        key = (addr.segment_ord, addr.doc)
        pos = self._pos.get(key)
        if pos is None:
            pos = int(self._searcher.doc(addr)["pos"][0])
            with self._lock:
                self._pos[key] = pos
        return pos

    def _query(self, terms: Sequence[str], fields: Sequence[str]) -> Any:
        return self._index.parse_query(" ".join(terms), list(fields), field_boosts={f: BOOSTS[f] for f in fields})

    def search(self, text: str, limit: int = 100, fields: Sequence[str] = FIELDS) -> list[tuple[int, float]]:
        terms = query_terms(text)
        if not terms:
            return []
        res = self._searcher.search(self._query(terms, fields), limit, count=False)
        return [(self._position(addr), float(score)) for score, addr in res.hits]

    def field_scores(self, text: str, positions: Sequence[int]) -> dict[str, dict[int, float]]:
        import tantivy

        terms = query_terms(text)
        out: dict[str, dict[int, float]] = {f: {} for f in FIELDS}
        if not terms or not positions:
            return out
        only = tantivy.Query.const_score_query(
            tantivy.Query.term_set_query(self._index.schema, "pos_key", [str(int(p)) for p in positions])
            if self._has_key else
            tantivy.Query.term_set_query(self._index.schema, "pos", [int(p) for p in positions]), 0.0)
        for f in FIELDS:
            q = tantivy.Query.boolean_query([
                (tantivy.Occur.Must, self._index.parse_query(" ".join(terms), [f])),
                (tantivy.Occur.Must, only)])
            res = self._searcher.search(q, len(positions), count=False)
            out[f] = {self._position(addr): float(score) for score, addr in res.hits}
        return out


LEXICAL_INDEXES.register("tantivy", TantivyLexicalIndex)
