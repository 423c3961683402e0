"""Late fusion of ranked lists, by name from :data:`FUSION_METHODS`.

Runs map a retriever name to ``[(item, score), ...]`` sorted best first.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from shoprank.registry import Registry

Run = Sequence[tuple[int, float]]
Fused = list[tuple[int, float]]


def rrf_fuse(runs: Mapping[str, Run], k: int = 60, weights: Mapping[str, float] | None = None) -> Fused:
    """Reciprocal rank fusion: ``sum_r w_r / (k + rank_r(d))``.

    Cormack, Clarke & Buettcher, "Reciprocal Rank Fusion outperforms Condorcet and
    individual rank learning methods", SIGIR 2009.
    """
    items: list[np.ndarray] = []
    gains: list[np.ndarray] = []
    for name, run in runs.items():
        w = 1.0 if weights is None else weights.get(name, 1.0)
        if w == 0 or not run:
            continue
        items.append(np.fromiter((item for item, _ in run), np.int64, len(run)))
        gains.append(w / (k + np.arange(1, len(run) + 1, dtype=np.float64)))
    if not items:
        return []
    # bincount adds in input order, run by run: the same sums as adding in a dict.
    ids, where = np.unique(np.concatenate(items), return_inverse=True)
    sums = np.bincount(where, weights=np.concatenate(gains))
    order = np.lexsort((ids, -sums))  # best first, ties by item
    return list(zip(ids[order].tolist(), sums[order].tolist(), strict=True))


def min_max(run: Run) -> dict[int, float]:
    """Scale scores to [0, 1] within one run; a constant run maps to 1."""
    if not run:
        return {}
    scores = [s for _, s in run]
    lo, hi = min(scores), max(scores)
    span = hi - lo
    return {item: (s - lo) / span if span > 0 else 1.0 for item, s in run}


def linear_fuse(runs: Mapping[str, Run], weights: Mapping[str, float] | None = None) -> Fused:
    """Weighted sum of min-max normalised scores (CombSUM with normalisation; an item absent
    from a run scores 0 there). Fox & Shaw, "Combination of multiple searches", TREC-2 1994;
    normalisation as in Lee, SIGIR 1997."""
    fused: dict[int, float] = {}
    for name, run in runs.items():
        w = 1.0 if weights is None else weights.get(name, 1.0)
        if w == 0:
            continue
        for item, s in min_max(run).items():
            fused[item] = fused.get(item, 0.0) + w * s
    return sorted(fused.items(), key=lambda t: (-t[1], t[0]))


FusionFn = Callable[[Mapping[str, Run], Mapping[str, float], int], Fused]
# Every fusion method takes (runs, weights, rrf_k); a method ignores what it does not use.
FUSION_METHODS: Registry[Fused] = Registry("fusion method")
FUSION_METHODS.register("rrf", lambda runs, weights, rrf_k=60: rrf_fuse(runs, rrf_k, weights))
FUSION_METHODS.register("linear", lambda runs, weights, rrf_k=60: linear_fuse(runs, weights))
