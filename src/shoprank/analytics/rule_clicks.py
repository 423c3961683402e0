"""What a merchandising rule would do to clicks: the expected clicks on a query's top results
before and after, by a position-based click model fitted on that query's logged pages.

``E[clicks] = sum_r theta_r * alpha_(q, d_r)`` (:class:`~shoprank.analytics.clickmodel.PositionBasedModel`:
``theta_r`` the chance rank ``r`` is examined, ``alpha`` the product's attractiveness for the
query). A product the log never showed for the query gets the mean attractiveness of those it
did show (a new product is taken as an average one, not as the prior's 0.5); a rank never shown
keeps the examination of the deepest rank that was.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from shoprank.analytics.clickmodel import Page, PositionBasedModel
from shoprank.analytics.report import PageView
from shoprank.search.merch_rule import normalize_text


@dataclass(frozen=True)
class ClickEstimate:
    before: float  # expected clicks per search on the top results as served now
    after: float   # with the rule
    pages: int     # logged result pages of the query the model was fitted on
    unseen: int    # products of either list the log never showed for the query (given the mean attractiveness)

    @property
    def change(self) -> float:
        return self.after - self.before


def estimate_clicks(views: Iterable[PageView], query: str, before: Sequence[str], after: Sequence[str],
                    max_rank: int = 10) -> ClickEstimate | None:
    """The estimate for ``query`` (compared case- and space-folded), or None when no page of it was logged."""
    key = normalize_text(query)
    pages = [Page(key, v.imp.products[:max_rank], frozenset(c for c in v.clicks if c <= max_rank))
             for v in views if v.imp.query and v.imp.products and normalize_text(v.imp.query) == key]
    if not pages:
        return None
    model = PositionBasedModel(max_rank).fit(pages)
    theta = _fill_ranks(model.examination)
    seen = {d: a for d in {d for p in pages for d in p.shown} if (a := model.attractiveness(key, d)) is not None}
    mean = float(np.mean(list(seen.values()))) if seen else 0.0

    def expected(shown: Sequence[str]) -> float:
        return float(sum(theta[r] * seen.get(d, mean) for r, d in enumerate(shown[:max_rank])))

    unseen = len({*before[:max_rank], *after[:max_rank]} - set(seen))
    return ClickEstimate(round(expected(before), 6), round(expected(after), 6), len(pages), unseen)


def _fill_ranks(examination: np.ndarray) -> np.ndarray:
    out = np.asarray(examination, np.float64).copy()
    last = 1.0
    for r, v in enumerate(out):
        if np.isnan(v):
            out[r] = last
        else:
            last = float(v)
    return out
