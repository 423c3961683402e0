"""Indexes over the encoded catalog: lexical (BM25, tantivy) and vector (faiss)."""
from shoprank.index.lexical import LexicalIndex
from shoprank.index.vector import VectorIndex

__all__ = ["LexicalIndex", "VectorIndex"]
