"""Shopper-style photo queries on Luma: hit@1/5/10 and MRR of the photo path, per fusion method.

Every catalog photo becomes a query the way a shopper's phone would take it, seeded per photo:
a random crop (70–95 % of the area, off-centre), a rotation of up to ±15°, colour jitter
(brightness, contrast, saturation ±20 %), a downscale to 400–800 px on the long side and JPEG
compression at quality 50–85. The target is the photographed product or any of its colour/size
variants (results show one variant per model).

With ``--rankers``, the products' models are split in half (seeded): LambdaMART and the four
neural fusion rankers are trained on the photo queries of one half (label 2 for the photographed
product, 1 for its colour/size variants, 0 for the rest) and every ranker is scored on the other
half's queries over the same candidates: the late-fused score alone (RRF), the hand-set linear
ranker, the shipped default ranker, and the trained ones.

    python benchmarks/photo_queries.py [--every 1] [--rankers]
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
from shoprank.features.registry import FEATURE_NAMES
from shoprank.ranking import LinearRanker, Ranker
from shoprank.retrieval.fusion import FUSION_METHODS
from shoprank.search import Candidates
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


def _metrics(name: str, ranks: list[int], seconds: float | None = None) -> dict:
    r = np.array(ranks)
    row = {"ranker": name, "queries": len(r), "hit@1": round(float(np.mean(r == 1)), 4),
           "hit@5": round(float(np.mean((r >= 1) & (r <= 5))), 4), "hit@10": round(float(np.mean(r >= 1)), 4),
           "MRR@10": round(float(np.mean(np.where(r > 0, 1 / np.maximum(r, 1), 0.0))), 4)}
    return row | ({"train s": round(seconds, 1)} if seconds is not None else {})


def group_rank(c: Candidates, scores: np.ndarray, catalog: Catalog, group: str, k: int = 10) -> int:
    """1-based rank of ``group`` among the first ``k`` distinct models by ``scores`` (0: not there)."""
    seen: list[str] = []
    for i in np.argsort(-scores, kind="stable"):
        g = catalog.products[c.positions[i]].group_id
        if g not in seen:
            seen.append(g)
            if g == group:
                return len(seen)
            if len(seen) == k:
                break
    return 0


def trained_rankers(engine: ShopRank, catalog: Catalog, queries: list[tuple[str, bytes]]) -> list[dict]:
    """Train on half the models' photo queries, score every ranker on the other half."""
    from shoprank.ranking.default import default_ranker
    from shoprank.ranking.lgbm import LambdaMARTRanker
    from shoprank.ranking.neural import VARIANTS, ListInputs, NeuralFusionRanker, index_modalities

    groups = sorted({catalog.get(pid).group_id for pid, _ in queries})  # type: ignore[union-attr]
    random.Random(0).shuffle(groups)
    test_groups = set(groups[: len(groups) // 2])
    data = []
    for pid, photo in queries:
        c = engine.candidates(Query(image=photo, k=200, collapse_variants=False))
        group = catalog.get(pid).group_id  # type: ignore[union-attr]
        y = np.array([2 if catalog.products[p].id == pid else int(catalog.products[p].group_id == group)
                      for p in c.positions], np.int64)
        data.append((group, c, y))
    train = [(g, c, y) for g, c, y in data if g not in test_groups and len(y) > 1]
    test = [(g, c, y) for g, c, y in data if g in test_groups]
    rankers: dict[str, tuple[Ranker | None, float | None]] = {
        "rrf (late fusion alone)": (None, None), "linear (hand-set)": (LinearRanker(), None),
        "default (shipped)": (default_ranker(engine.settings.text_encoder), None)}
    t0 = time.perf_counter()
    X = np.concatenate([c.X for _, c, _ in train])
    y = np.concatenate([y for _, _, y in train])
    rankers["lambdamart"] = (LambdaMARTRanker.fit(X, y, [len(y) for _, _, y in train], num_rounds=300,
                                                  feature_names=train[0][1].batch.names),
                             time.perf_counter() - t0)
    mods = index_modalities(engine.artifacts)
    lists = [ListInputs.from_batch(c.batch, mods, y.astype(np.float32)) for _, c, y in train]
    for variant in VARIANTS:
        t0 = time.perf_counter()
        rankers[f"fusion_{variant}"] = (NeuralFusionRanker.fit(lists, mods, variant), time.perf_counter() - t0)
    rrf = FEATURE_NAMES.index("rrf")
    rows = []
    for name, (model, seconds) in rankers.items():
        ranks = [group_rank(c, c.X[:, rrf] if model is None else model.score(c.batch), catalog, g)
                 for g, c, _ in test]
        rows.append(_metrics(name, ranks, seconds))
    print(f"trained on {len(train)} photo queries ({len(groups) - len(test_groups)} models), "
          f"scored on {len(test)} ({len(test_groups)} other models)")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--every", type=int, default=1, help="use every n-th photo")
    ap.add_argument("--rankers", action="store_true", help="also train and compare the learned rankers")
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
        rows.append({"fusion": fusion, **_metrics(engine.ranker.name, ranks),
                     "s per query": round((time.perf_counter() - t0) / len(ranks), 4)})
    print(table(rows, list(rows[0])))
    learned = trained_rankers(engine, catalog, queries) if args.rankers else []
    if learned:
        print(table(learned, list(learned[-1])))
    print(f"load before: {load:.2f}")
    print("results:", save("photo_queries", {"load_before": load, "rows": rows, "rankers": learned,
                                             "every": args.every}))


if __name__ == "__main__":
    main()
