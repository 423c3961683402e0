"""GET /suggest: autocomplete."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from shoprank.service.deps import EngineDep, compute
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES
from shoprank.service.schemas import SegmentsDep, SuggestionPublic, SuggestResponse
from shoprank.service.security import require

router = APIRouter(tags=["search"], dependencies=[require("search")],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})


@router.get("/suggest", response_model=SuggestResponse)
async def suggest(request: Request, engine: EngineDep, segments: SegmentsDep, q: str = Query(..., max_length=100),
                  k: int = Query(8, ge=1, le=20)) -> SuggestResponse:
    """Completions of ``q`` from past queries, category names and product titles; no product a
    merchandising rule hides (a query rule when ``q`` matches it as a search would; site-wide and
    ``segments`` rules)."""
    found = await compute(request, engine.suggest, q, k, segments)
    return SuggestResponse(q=q, suggestions=[SuggestionPublic(text=s.text, kind=s.kind, product_id=s.product_id,
                                                                  category=s.category)
                                             for s in found])
