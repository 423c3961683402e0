"""Products, their photos, similar items and categories."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from shoprank.service.deps import EngineDep
from shoprank.service.schemas import ProductPublic, ResultPublic, SimilarResponse

router = APIRouter(tags=["products"])


def _product_or_404(engine: EngineDep, pid: str):
    p = engine.product(pid)
    if p is None:
        raise HTTPException(404, f"no product with id {pid!r}")
    return p


@router.get("/products/{pid}", response_model=ProductPublic)
def get_product(pid: str, engine: EngineDep) -> ProductPublic:
    art = engine.artifacts  # one generation for the product and its photo labels, even during a reload
    p = art.catalog.get(pid)
    if p is None:
        raise HTTPException(404, f"no product with id {pid!r}")
    return ProductPublic.from_product(p, art.photo_labels(art.catalog.position(pid)))


@router.get("/similar/{pid}", response_model=SimilarResponse)
def similar(pid: str, engine: EngineDep, k: int = Query(10, ge=1, le=100)) -> SimilarResponse:
    try:
        hits = engine.similar(pid, k)
    except KeyError:  # not in the catalog (of the generation served when the search ran)
        raise HTTPException(404, f"no product with id {pid!r}") from None
    return SimilarResponse(id=pid, results=[ResultPublic.from_hit(h) for h in hits])


@router.get("/images/{pid}/{n}")
def product_image(pid: str, n: int, engine: EngineDep) -> FileResponse:
    # Only paths recorded in the catalog are served: a request cannot name a file.
    p = _product_or_404(engine, pid)
    if not 0 <= n < len(p.images) or not Path(p.images[n]).is_file():
        raise HTTPException(404, f"product {pid!r} has no image {n}")
    return FileResponse(p.images[n], headers={"Cache-Control": "public, max-age=86400"})


@router.get("/categories")
def categories(engine: EngineDep) -> dict[str, list[dict[str, object]]]:
    counts: Counter[str] = Counter()
    for p in engine.artifacts.catalog:
        for c in p.categories:
            parts = c.split("/")
            for i in range(1, len(parts) + 1):
                counts["/".join(parts[:i])] += 1
    return {"categories": [{"path": c, "count": n} for c, n in sorted(counts.items())]}
