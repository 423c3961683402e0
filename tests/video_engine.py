"""The engine of tests/test_video_modality.py, and its child process.

``python video_engine.py FOLDER`` runs on a copy of the package that a developer gave a "fake_video"
modality: it builds the tiny catalog into an engine serving the packaged default ranker,
searches it directly and over HTTP, and prints what the test checks as one JSON object. The
test imports :func:`tiny_video_engine` and :func:`queries` too, to build the same engine on the
unmodified package."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

import shoprank
from fakes import photo, tiny_catalog
from shoprank.config import Settings
from shoprank.engine import ShopRank
from shoprank.index.live import CatalogWrite
from shoprank.ranking.base import CandidateBatch
from shoprank.ranking.default import default_ranker, packaged_path
from shoprank.ranking.linear import LinearRanker
from shoprank.service.app import create_app
from shoprank.types import Product, Query

TEXT = "green backpack"


def tiny_video_engine(folder: Path) -> ShopRank:
    """The tiny catalog on the model-free encoders, serving the default model packaged for minilm
    (as ``SHOPRANK_RANKER_MODEL`` names a saved model)."""
    s = Settings(home=folder / "home", text_encoder="hashing", image_encoder="palette", profile_store="memory",
                 ranker="default", ranker_model=packaged_path("minilm"))
    return ShopRank.build(tiny_catalog(folder / "cat"), s.index_dir("tiny"), s)


def queries(folder: Path) -> dict[str, Query]:
    """A photo (the green hoodie's, drawn again), the same photo with text, and the text alone."""
    image = Path(photo(folder / "query.png", "green")).read_bytes()
    return {"photo": Query(image=image, k=5, explain=True),
            "text+photo": Query(text=TEXT, image=image, k=5, explain=True),
            "text": Query(text=TEXT, k=5, explain=True)}


def _searched(engine: ShopRank, query: Query) -> dict[str, Any]:
    """What a search returns, what its candidates' features are, and how the served model scores them."""
    res = engine.search(query)
    batch = engine.candidates(query).batch
    keep = [j for j, n in enumerate(batch.names) if n != "cos_fake_video"]
    without = CandidateBatch(batch.X[:, keep], batch.positions, batch.product_ids, batch.query_vectors,
                             batch.artifacts, [batch.names[j] for j in keep])
    return {"retrievers": res.retrievers,
            "hits": [{"id": h.product.id, "score": h.score, "features": h.features, "retrievers": h.retrievers,
                      "contributions": h.contributions} for h in res.hits],
            "ids": batch.product_ids, "names": batch.names, "X": batch.X.tolist(),
            "scores": engine.ranker.score(batch).tolist(),
            "scores_without_video": engine.ranker.score(without).tolist()}


def _served(engine: ShopRank, image: bytes) -> dict[str, Any]:
    with TestClient(create_app(engine)) as client:
        r = client.post("/search", data={"k": "5", "explain": "true"}, files={"image": ("q.png", image, "image/png")})
    body = r.json()
    return {"status": r.status_code, "retrievers": body.get("retrievers"), "results": body.get("results")}


def _written(engine: ShopRank, folder: Path, query: Query) -> dict[str, Any]:
    """A live write adds a product whose two green frames pool into one row; then the index is
    opened again from disk (with the writes logged since it was built)."""
    frames = [photo(folder / f"frame-{i}.png", "green") for i in range(2)]
    engine.write([CatalogWrite.put(Product(id="clip", title="Quibbleton Clip", images=frames))])
    rows = engine.artifacts.modalities["fake_video"].rows_of(engine.artifacts.catalog.position("clip"))
    hit = next(h for h in engine.search(query).hits if h.product.id == "clip")
    reopened = ShopRank.open(engine.settings.index_dir("tiny"), engine.settings)
    again = reopened.search(query)
    return {"rows": len(rows), "cos_fake_video": hit.features["cos_fake_video"], "retrievers": hit.retrievers,
            "reopened": {"modalities": sorted(reopened.artifacts.modalities), "retrievers": again.retrievers,
                         "hits": [h.product.id for h in again.hits]}}


def main(folder: Path) -> dict[str, Any]:
    engine = tiny_video_engine(folder)
    asked = queries(folder)
    photo_query = asked["photo"]
    assert photo_query.image is not None
    linear = engine.search(photo_query, ranker=LinearRanker())  # a ranker that weighs cos_fake_video
    return {"package": shoprank.__file__, "ranker": type(engine.ranker).__name__,
            "default_ranker": type(default_ranker("minilm")).__name__,
            "ranker_reads": list(getattr(engine.ranker, "feature_names", [])),
            "searches": {name: _searched(engine, q) for name, q in asked.items()},
            "linear": [{"score": h.score, "features": h.features, "contributions": h.contributions}
                       for h in linear.hits],
            "served": _served(engine, photo_query.image),
            "written": _written(engine, folder, photo_query)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
