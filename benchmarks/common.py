"""Helpers shared by the benchmark scripts: data location, tables, result files."""
from __future__ import annotations

import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("SHOPRANK_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
OUT = REPO / "benchmarks" / "out"
# Chinese shopper queries for the Luma catalog, beside the English WANDS ones.
ZH = ["背包", "女士瑜伽裤", "男士连帽衫", "运动手表", "红色夹克", "瑜伽垫", "短裤 50元以下", "健身包"]


def wands_queries() -> list[str]:
    """The 480 real WANDS shopper queries."""
    with open(DATA_DIR / "wands" / "query.csv", newline="") as f:
        return [row["query"] for row in csv.DictReader(f, delimiter="\t")]


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def percentiles(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    pct = {f"p{q}_ms": round(float(np.percentile(a, q)), 2) for q in (50, 90, 99)}
    return {"n": len(a), **pct, "mean_ms": round(float(a.mean()), 2)}


def table(rows: list[dict], cols: list[str]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols]
    line = lambda vals: "| " + " | ".join(str(v).ljust(w) for v, w in zip(vals, widths)) + " |"  # noqa: E731
    return "\n".join([line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
                      *(line([r.get(c, "") for c in cols]) for r in rows)])


def save(name: str, payload: dict) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "machine": machine(), "at": time.strftime("%Y-%m-%d %H:%M:%S"), **payload}
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    return path
