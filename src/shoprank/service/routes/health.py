"""Liveness and what the index holds."""
from __future__ import annotations

from fastapi import APIRouter

from shoprank.service.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/health")
def health(engine: EngineDep) -> dict[str, object]:
    m = engine.artifacts.manifest
    return {"status": "ok", "products": m.get("products"), "images": m.get("images"),
            "text_encoder": m.get("text_encoder"), "image_encoder": m.get("image_encoder")}
