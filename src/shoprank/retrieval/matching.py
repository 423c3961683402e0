"""Which candidates count as matching a query, when no keyword matched to say so.

A dense retriever returns something for any query: its list has no natural end. For a photo,
the similarities of the products that show the same kind of thing sit well above the rest
(efficientnet on the demo catalog: 0.81-1.0 for the six backpacks, then 0.59 and below), so
the list is cut at its largest drop, the "score cliff" of the similarity curve.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def score_cliff(scores: Sequence[float], min_drop: float) -> int:
    """How many of ``scores`` (best first) come before the largest drop between neighbours.

    All of them when no drop reaches ``min_drop``: a smooth curve has no cliff to cut at."""
    s = np.asarray(scores, np.float64)
    if len(s) < 2:
        return len(s)
    drops = s[:-1] - s[1:]
    i = int(np.argmax(drops))
    return i + 1 if drops[i] >= min_drop else len(s)
