"""Index the Magento Luma catalog (2,046 products, 723 photos): cold cache, then warm.

    python benchmarks/index_luma.py
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import DATA_DIR, REPO, save, table
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank


def main() -> None:
    t0 = time.perf_counter()
    res = load_magento(DATA_DIR / "magento_luma")
    ingest_s = time.perf_counter() - t0
    catalog = Catalog(res.products)
    rows = []
    with tempfile.TemporaryDirectory() as home:
        # Exported ONNX models are built once per machine, not per index: reuse var/models.
        models = REPO / "var" / "models"
        models.mkdir(parents=True, exist_ok=True)
        (Path(home) / "models").symlink_to(models)
        settings = Settings(home=Path(home))
        for run in ("cold cache", "warm cache"):
            t0 = time.perf_counter()
            engine = ShopRank.build(catalog, settings.index_dir("luma"), settings)
            total = time.perf_counter() - t0
            m = engine.artifacts.manifest
            rows.append({"run": run, "products": m["products"], "images": m["images"], "reviews": m["reviews"],
                         "encoded": m.get("encoded"),
                         "total_s": round(total, 1), "products_per_s": round(m["products"] / total, 1),
                         **{k: round(v, 1) for k, v in m["timings"].items()}})
    print(f"ingest (parse + validate): {len(res.products)} products, {len(res.errors)} rows reported, {ingest_s:.2f}s")
    print(table(rows, list(rows[0])))
    print("results:", save("index_luma", {"ingest_s": round(ingest_s, 2), "rows_reported": len(res.errors),
                                          "runs": rows}))


if __name__ == "__main__":
    main()
