"""The query plan: what a request means, worked out once and read by every later stage.

:class:`~shoprank.query.understanding.QueryUnderstanding` turns a request into a
:class:`QueryPlan`; retrievers, features, rules and explanations read the plan, never the raw
text. Rewriters (:mod:`shoprank.query.rewriters`) add :class:`Rewrite` s: a confident one
*replaces* the text every stage reads (a typo correction), the others are *alternatives*
BM25 and the dense text vector take in beside it, at their weight (synonyms, expansions).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from shoprank.query.parse import ParsedQuery

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class QueryError(ValueError):
    """The query cannot be served as given (an unreadable photo, nothing to search for)."""


class QueryTooLarge(QueryError):
    """A query input (a photo) larger than this server decodes."""


def language_of(text: str | None) -> str | None:
    """``"zh"`` for text with Chinese characters, ``"en"`` for other text, None for none."""
    if not text:
        return None
    return "zh" if _CJK.search(text) else "en"


@dataclass(frozen=True)
class Rewrite:
    """One other reading of the query, with where it came from."""

    text: str
    origin: str             # the rewriter that made it: "typo", "synonym", "rule", "llm", ...
    weight: float = 1.0     # an alternative's strength beside the query itself (1: as strong)
    replaces: bool = False  # True: every stage reads this text instead of the query's
    reason: str = ""        # for explanations ("backpak → backpack: 1 edit")
    edits: int = 0          # a typo correction's edits, summed over its words (0: none)
    # (word, reference): BM25 scores the word with at most the reference's IDF, so a rare
    # candidate of an expansion cannot outscore the common one it stands beside.
    idf_from: tuple[tuple[str, str], ...] = ()


@dataclass
class QueryPlan:
    """A request as every stage reads it.

    ``vectors`` holds one vector per query input a modality route needs (keys ``"text"``,
    ``"photo_labels"``, ``"photo:<modality>"``; see :mod:`shoprank.modalities`)."""

    text: str | None = None        # normalized, with replacing rewrites applied
    original: str | None = None    # as the shopper typed it
    language: str | None = None
    terms: list[str] = field(default_factory=list)  # stemmed, as BM25 sees them
    parsed: ParsedQuery | None = None  # types, colours, sizes, gender, price limits asked for
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    rewrites: list[Rewrite] = field(default_factory=list)
    # What the image model saw in the photo, confidently enough to show (all labels feed the text bridge).
    photo_labels: list[tuple[str, float]] = field(default_factory=list)
    encode_ms: float = 0.0
    typo_tolerance: bool = True  # False: the typo rewriter leaves the text as typed ("search instead for")

    @property
    def typo_edits(self) -> int:
        """Edits the plan's typo correction needed: the replacing one's, else the fewest of an
        alternative's; 0 without one (the ``typo_edits`` ranking feature)."""
        typos = [r for r in self.rewrites if r.origin == "typo" and r.edits]
        replacing = [r.edits for r in typos if r.replaces]
        return replacing[-1] if replacing else min((r.edits for r in typos), default=0)

    @property
    def did_you_mean(self) -> tuple[str | None, bool]:
        """``(corrected query, auto-corrected)``: the text a typo correction replaced the query
        with (True), else the best unsure correction searched beside it (False), else ``(None, False)``."""
        typed = (self.original or "").strip()
        for r in self.rewrites:
            if r.origin == "typo" and r.replaces and self.text and self.text != typed:
                return self.text, True
        alt = next((r.text for r in self.alternatives if r.origin == "typo" and r.text != typed), None)
        return alt, False

    @property
    def alternatives(self) -> list[Rewrite]:
        """Rewrites read beside the query (not instead of it)."""
        return [r for r in self.rewrites if not r.replaces and r.text and r.weight > 0]

    def lexical_queries(self) -> list[tuple[str, float, dict[str, str]]]:
        """``(text, weight, idf_from)`` for BM25: the query, then each alternative."""
        if not self.text:
            return []
        return [(self.text, 1.0, {}), *((r.text, r.weight, dict(r.idf_from)) for r in self.alternatives)]


__all__ = ["QueryError", "QueryPlan", "QueryTooLarge", "Rewrite", "language_of"]
