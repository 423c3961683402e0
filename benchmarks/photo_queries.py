"""Shopper-style photo queries on Luma: hit@1/5/10 and MRR of the photo path, per fusion method.

Every catalog photo becomes a query the way a shopper's phone would take it, seeded per photo:
a random crop (70–95 % of the area, off-centre), a rotation of up to ±15°, colour jitter
(brightness, contrast, saturation ±20 %), a downscale to 400–800 px on the long side and JPEG
compression at quality 50–85. The target is the photographed product or any of its colour/size
variants (results show one variant per model).

    python benchmarks/photo_queries.py [--every 1]
"""
from __future__ import annotations

import argparse
import io
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).parent))

from common import DATA_DIR, REPO, save, table
from shoprank.catalog import Catalog, load_magento
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.retrieval.fusion import FUSION_METHODS
from shoprank.types import Query


def shopper_photo(path: str, seed: int) -> bytes:
    rng = random.Random(seed)
    with Image.open(path) as im:
        im = im.convert("RGB")
    w, h = im.size
    share = rng.uniform(0.70, 0.95)
    cw, ch = int(w * share ** 0.5), int(h * share ** 0.5)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = im.crop((x, y, x + cw, y + ch)).rotate(rng.uniform(-15, 15), resample=Image.BILINEAR, expand=False,
                                                fillcolor=(255, 255, 255))
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        im = enhance(im).enhance(rng.uniform(0.8, 1.2))
    side = rng.randint(400, 800)
    im.thumbnail((side, side))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=rng.randint(50, 85))
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=1, help="use every n-th photo")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    catalog = Catalog(load_magento(DATA_DIR / "magento_luma").products)
    settings = Settings(home=REPO / "var", data_dir=DATA_DIR)
    engine = ShopRank.open(settings.index_dir("luma"), settings)
    owner: dict[str, str] = {}
    for p in catalog.products:  # each distinct main photo once (variants often share their parent's)
        for img in p.images[:1]:
            owner.setdefault(str(img), p.id)
    photos = sorted(owner.items())[:: args.every]
    queries = [(pid, shopper_photo(path, i)) for i, (path, pid) in enumerate(photos)]
    rows = []
    for fusion in FUSION_METHODS.names():
        ranks, t0 = [], time.perf_counter()
        for pid, data in queries:
            hits = engine.search(Query(image=data, k=10, fusion=fusion)).hits
            group = catalog.get(pid).group_id  # type: ignore[union-attr]
            ranks.append(next((r for r, h in enumerate(hits, 1) if h.product.group_id == group), 0))
        r = np.array(ranks)
        rows.append({"fusion": fusion, "queries": len(r), "hit@1": round(float(np.mean(r == 1)), 4),
                     "hit@5": round(float(np.mean((r >= 1) & (r <= 5))), 4),
                     "hit@10": round(float(np.mean(r >= 1)), 4),
                     "MRR@10": round(float(np.mean(np.where(r > 0, 1 / np.maximum(r, 1), 0.0))), 4),
                     "s per query": round((time.perf_counter() - t0) / len(r), 4)})
    print(table(rows, list(rows[0])))
    print(f"load before: {load:.2f}")
    print("results:", save("photo_queries", {"load_before": load, "rows": rows, "every": args.every}))


if __name__ == "__main__":
    main()
