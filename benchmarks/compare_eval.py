"""Compare two `shoprank eval --out` folders value by value: the feature matrices every pipeline
ranks from and every per-query metric of every pipeline. For refactors that must not change
rankings.

    python benchmarks/compare_eval.py BEFORE_DIR AFTER_DIR crowdflower homedepot
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _max_diff(a: Any, b: Any, where: str) -> tuple[float, int]:
    """Largest absolute difference between two JSON values of the same shape, and how many numbers."""
    if isinstance(a, dict):
        if set(a) != set(b):
            raise SystemExit(f"{where}: keys differ: {sorted(set(a) ^ set(b))[:5]}")
        pairs = [_max_diff(a[k], b[k], f"{where}/{k}") for k in a]
    elif isinstance(a, list):
        if len(a) != len(b):
            raise SystemExit(f"{where}: lengths differ")
        pairs = [_max_diff(x, y, where) for x, y in zip(a, b)]
    elif isinstance(a, (int, float)):
        return abs(float(a) - float(b)), 1
    else:
        if a != b:
            raise SystemExit(f"{where}: {a!r} != {b!r}")
        return 0.0, 0
    return max((d for d, _ in pairs), default=0.0), sum(n for _, n in pairs)


def main() -> None:
    before, after, sets = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
    for name in sets:
        fa, fb = pd.read_parquet(before / name / "features.parquet"), pd.read_parquet(after / name / "features.parquet")
        if list(fa.columns) != list(fb.columns) or fa.shape != fb.shape:
            raise SystemExit(f"{name}: feature logs differ in shape or columns")
        num = [c for c in fa.columns if pd.api.types.is_numeric_dtype(fa[c])]
        diff = max(float(np.max(np.abs(fa[c].to_numpy(np.float64) - fb[c].to_numpy(np.float64)))) for c in num)
        same_ids = all((fa[c] == fb[c]).all() for c in fa.columns if c not in num)
        print(f"== {name}: features {fa.shape}, max |diff| {diff:g}, ids equal {same_ids}")
        for f in sorted((before / name).glob("*.per_query.json")):
            d, n = _max_diff(json.loads(f.read_text()), json.loads((after / name / f.name).read_text()), f.name)
            print(f"{f.name:42s} {n:7d} values  max |diff| {d:g}")


if __name__ == "__main__":
    main()
