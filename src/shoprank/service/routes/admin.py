"""Operations on the running server: POST /admin/reload switches to the index's newest generation."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from shoprank.engine import ReloadError
from shoprank.service.deps import EngineDep
from shoprank.service.guard import AUTH_RESPONSES, ErrorResponse
from shoprank.service.security import require

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[require("admin")],
                   responses={**AUTH_RESPONSES, 409: {"model": ErrorResponse,
                                                      "description": "The new generation cannot be served"}})


class ReloadResponse(BaseModel):
    generation: str | None  # served now
    previous: str | None    # served before the call
    reloaded: bool          # false: the current generation was already served


@router.post("/reload", response_model=ReloadResponse)
async def reload(engine: EngineDep) -> ReloadResponse:
    """Serve the index's current generation (what the last `shoprank index` published).
    Searches in flight finish on the old one; no request fails during the switch."""
    previous = engine.generation
    try:
        reloaded = await run_in_threadpool(engine.reload)
    except ReloadError as e:
        raise HTTPException(409, str(e)) from None
    return ReloadResponse(generation=engine.generation, previous=previous, reloaded=reloaded)
