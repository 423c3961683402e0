"""What `import shoprank` and its light modules cost, in fresh interpreters: the median time of
the import statement itself and the shoprank modules it loads.

    python benchmarks/import_cost.py [--runs 15] [--src OTHER_TREE/src ...]

With ``--src``, the same imports are timed from each source tree, runs alternating between
trees, so one table compares them side by side.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import REPO, machine, save, table

IMPORTS = ["import shoprank", "import shoprank.modalities", "from shoprank import ShopRank",
           "import shoprank.service.app"]
_PROBE = ("import sys, time; t = time.perf_counter(); {stmt}; dt = time.perf_counter() - t; "
          "print(dt, sum(m.startswith('shoprank') for m in sys.modules), len(sys.modules))")


def _probe(src: Path, stmt: str) -> tuple[float, int, int]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", _PROBE.format(stmt=stmt)], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--src", type=Path, action="append", default=[], help="another source tree to compare")
    args = ap.parse_args()
    trees = [REPO / "src", *args.src]
    rows = []
    for stmt in IMPORTS:
        times: dict[Path, list[float]] = {t: [] for t in trees}
        mods: dict[Path, tuple[int, int]] = {}
        for _ in range(args.runs):
            for tree in trees:  # alternating: the machine's load falls on every tree alike
                dt, ours, total = _probe(tree, stmt)
                times[tree].append(dt * 1000)
                mods[tree] = (ours, total)
        for tree in trees:
            rows.append({"tree": str(tree.parent.name), "import": stmt,
                         "median_ms": round(float(np.median(times[tree])), 1),
                         "shoprank_modules": mods[tree][0], "all_modules": mods[tree][1]})
    print(table(rows, ["tree", "import", "median_ms", "shoprank_modules", "all_modules"]))
    load = os.getloadavg()[0]
    print(f"{machine()}, load {load:.2f}, {args.runs} runs each")
    print(f"results: {save('import_cost', {'machine': machine(), 'load': load, 'runs': args.runs, 'rows': rows})}")


if __name__ == "__main__":
    main()
