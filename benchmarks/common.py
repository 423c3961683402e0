"""Helpers shared by the benchmark scripts: data location, tables, result files."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
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


def post(url: str, body: bytes, ctype: str, timeout: float = 600) -> int:
    """POST ``body``; the status code (an error status is returned, not raised)."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def multipart(field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body holding one file, and its Content-Type."""
    import uuid

    b = uuid.uuid4().hex
    body = (f"--{b}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


@contextlib.contextmanager
def shoprank_server(src: str, args: list[str], port: int,
                    env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """``python -m shoprank.cli ARGS`` from the source tree ``src`` (a server on ``port``), running
    and answering /health; stopped on exit."""
    import urllib.request

    full = {**os.environ, "PYTHONPATH": os.path.abspath(src), "SHOPRANK_PORT": str(port), **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "shoprank.cli", *args], env=full,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"shoprank {' '.join(args)} exited with {proc.returncode}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)
