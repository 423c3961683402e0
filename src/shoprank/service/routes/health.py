"""Liveness, what the index holds, and which generation of it is served."""
from __future__ import annotations

from fastapi import APIRouter

from shoprank.service.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(engine: EngineDep) -> dict[str, object]:
    m = engine.artifacts.manifest
    return {"status": "ok", "generation": engine.generation, "products": engine.artifacts.catalog.n_live,
            "images": m.get("images"), "text_encoder": m.get("text_encoder"), "image_encoder": m.get("image_encoder"),
            "built_at": m.get("built_at"), "catalog_seq": engine.catalog_seq}
