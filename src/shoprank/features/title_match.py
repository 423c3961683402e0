"""Surface matches between a query and product titles that BM25 misses: word beginnings
(plurals, stems and cut-off words: "bracket" / "brackets", "galv" / "galvanized"), numbers
(sizes and model numbers: "3/4", "2x4") and character trigrams (typos, spacing and compound
words: "sheetrock" / "sheet rock"). On Home Depot's queries they lift LambdaMART by +4.4 %
nDCG@10 (benchmarks/RESULTS.md).

Per product the title's word beginnings and numbers are kept as small sets, its trigrams as one
row of a sparse matrix (hashed, binary, unit length); a query's trigram cosine reads its
candidates' rows alone.
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Sequence

import numpy as np

from shoprank.arrays import GrowingArray, runs

PREFIX = 4  # letters of a word that must agree
DIMS = 1 << 20  # trigram hash buckets: collisions are rare at title length
_WORD = re.compile(r"\w+(?:[./]\d+)*")  # "3/4", "1.5" stay one word


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def prefixes(ws: Iterable[str]) -> frozenset[str]:
    return frozenset(w[:PREFIX] for w in ws)


def numbers(ws: Iterable[str]) -> frozenset[str]:
    return frozenset(w for w in ws if w[0].isdigit())


def trigrams(ws: Iterable[str]) -> list[int]:
    """Hashed character trigrams of each word padded with a space on either side (so that a
    word's first and last letters count), deduplicated and sorted."""
    grams: set[int] = set()
    for w in ws:
        p = f" {w} "
        grams.update(zlib.crc32(p[i:i + 3].encode()) % DIMS for i in range(len(p) - 2))
    return sorted(grams)


class TrigramMatrix:
    """One unit trigram row per title, in catalog position order; grows with the catalog.

    Kept as CSR arrays with room to append, so that a live write of a few products does not copy
    every title's row (a scipy ``vstack`` at 200k titles took ~26 ms per write).
    """

    def __init__(self) -> None:
        self.indptr = GrowingArray(np.zeros(1, np.int64))
        self.indices = GrowingArray(np.zeros(0, np.int32))
        self.data = GrowingArray(np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return len(self.indices)

    def extend(self, titles: Sequence[str]) -> None:
        grams = [trigrams(words(t)) for t in titles]
        if not grams:
            return
        lengths = np.array([len(g) for g in grams], np.int64)
        start = self.nnz
        self.indices.append(np.fromiter((i for g in grams for i in g), np.int32, int(lengths.sum())))
        self.data.append(np.repeat(1.0 / np.sqrt(np.maximum(lengths, 1)), lengths).astype(np.float32))
        # The rows last: a search reading meanwhile never sees a row whose entries are not there yet.
        self.indptr.append(start + np.cumsum(lengths))

    def cosine(self, query: str, rows: np.ndarray) -> np.ndarray:
        """The cosine of ``query``'s trigram set to each title at ``rows``."""
        grams = np.asarray(trigrams(words(query)), np.int32)
        if not len(grams) or not len(rows):
            return np.zeros(len(rows), np.float32)
        # The candidates' rows only: a sparse product with the query's column would walk all
        # DIMS columns (~1 ms a query); this touches the rows' few hundred entries.
        rows = np.asarray(rows, np.int64)
        indptr = self.indptr.view()
        starts, lengths = indptr[rows], indptr[rows + 1] - indptr[rows]
        row_of = np.repeat(np.arange(len(rows)), lengths)
        at = runs(starts, lengths)
        hit = np.isin(self.indices.view()[at], grams)
        cos = np.bincount(row_of[hit], weights=self.data.view()[at][hit], minlength=len(rows)) / np.sqrt(len(grams))
        return cos.astype(np.float32)
