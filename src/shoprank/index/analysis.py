"""Text analysis shared by indexing and querying.

tantivy's tokenizers keep a run of Chinese characters as one token, so "女士瑜伽裤" would
only match itself. Like Lucene's CJKAnalyzer we index overlapping character bigrams.
"""
from __future__ import annotations

import re
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"\w+", re.UNICODE)


def cjk_bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i:i + 2] for i in range(len(run) - 1)]


def analyze(text: str) -> str:
    """Rewrite CJK runs as space-separated bigrams; leave everything else to tantivy."""
    return _CJK.sub(lambda m: " " + " ".join(cjk_bigrams(m.group(0))) + " ", text)


@lru_cache(maxsize=1)
def _stemmer():
    import tantivy

    # The same chain as tantivy's built-in "en_stem" tokenizer used by the BM25 fields.
    return (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40)).filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stemmer("english")).build())


def stemmed_terms(text: str) -> list[str]:
    """Terms as the BM25 index sees them (stemmed, CJK bigrams)."""
    return _stemmer().analyze(analyze(text)) if text else []


def query_terms(text: str) -> list[str]:
    """Plain terms of a user query, free of query-language syntax (never a parse error)."""
    return [t.lower() for t in _WORD.findall(analyze(text))]
