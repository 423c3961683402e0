"""Indexes over the encoded catalog: lexical (BM25) and vector backends, chosen by name."""
from shoprank.index.lexical import LEXICAL_INDEXES, LexicalIndex
from shoprank.index.vector import VECTOR_INDEXES, VectorIndex

__all__ = ["LEXICAL_INDEXES", "VECTOR_INDEXES", "LexicalIndex", "VectorIndex"]
