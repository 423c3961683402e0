"""The served index's synonym sets, editable while serving (admin scope): every process serving
the index reads a change on its next search (this one at once, others within a second)."""
from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from shoprank.engine import ShopRank
from shoprank.query.synonym_store import ID_PATTERN, SynonymSet
from shoprank.service.deps import EngineDep
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES, ErrorResponse, parse_json
from shoprank.service.schemas import (
    SynonymSetPublic,
    SynonymsResponse,
    SynonymSuggestionPublic,
    SynonymSuggestionsResponse,
)
from shoprank.service.security import require
from shoprank.types import describe_error

router = APIRouter(prefix="/admin/synonyms", tags=["admin"], dependencies=[require("admin")],
                   responses={**AUTH_RESPONSES, **ERROR_RESPONSES})
SetId = Path(pattern=ID_PATTERN, description="letters, digits, '.', '_', '-' (up to 64)")
SYNONYM_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": SynonymSet.model_json_schema(),
    "examples": {"multi-way": {"value": {"terms": ["rucksack", "backpack", "knapsack"]}},
                 "one-way": {"value": {"input": "tee", "terms": ["t-shirt"]}}}}}}}


def _public(sid: str, s: SynonymSet) -> SynonymSetPublic:
    return SynonymSetPublic(id=sid, terms=list(s.terms), input=s.input, description=s.describe())


@router.get("", response_model=SynonymsResponse)
async def list_synonyms(engine: EngineDep) -> SynonymsResponse:
    current = await run_in_threadpool(engine.synonyms.sets)
    return SynonymsResponse(synonyms=[_public(sid, s) for sid, s in sorted(current.sets.items())],
                            version=current.version)


@router.put("/{sid}", response_model=SynonymSetPublic, openapi_extra=SYNONYM_BODY)
async def put_synonyms(request: Request, engine: EngineDep, sid: str = SetId) -> SynonymSetPublic:
    """Add or replace the set ``sid``: ``{"terms": [...]}`` (each term stands for the others) or
    ``{"input": "tee", "terms": ["t-shirt"]}`` (one way). The next search reads it."""
    raw = await request.body()
    if not isinstance(parse_json(raw), dict):  # the guard's reader: no NaN, bounded depth
        raise HTTPException(422, "body must be a synonym set object, e.g. {\"terms\": [\"rucksack\", \"backpack\"]}")
    try:
        synonym_set = SynonymSet.model_validate_json(raw, strict=True)
    except ValidationError as e:
        raise HTTPException(422, describe_error(e)) from None
    try:
        await run_in_threadpool(engine.synonyms.put, sid, synonym_set)
    except OSError as e:  # the server's own disk
        raise HTTPException(503, f"the synonym set could not be stored: {e}") from None
    return _public(sid, synonym_set)


@router.delete("/{sid}", response_model=SynonymsResponse, responses={
    404: {"model": ErrorResponse, "description": "No such synonym set"}})
async def delete_synonyms(engine: EngineDep, sid: str = SetId) -> SynonymsResponse:
    """Delete the set ``sid``; the next search no longer reads it. Answers the sets left."""
    if not await run_in_threadpool(engine.synonyms.delete, sid):
        raise HTTPException(404, f"no synonym set {sid!r}")
    return await list_synonyms(engine)


def _suggestions(engine: ShopRank, days: float, min_support: int, top: int) -> SynonymSuggestionsResponse:
    from shoprank.analytics.synonym_suggestions import suggest_synonyms

    log = engine.impressions
    if log is None:
        raise HTTPException(409, "impressions are not logged on this server (SHOPRANK_LOG_IMPRESSIONS=false)")
    since = time.time() - days * 86400.0
    events = (se.event for se in engine.personalizer.events.scan() if se.ts >= since)
    found = suggest_synonyms(log.scan(since=since), events, engine.synonyms.sets(), min_support)[:top]
    return SynonymSuggestionsResponse(suggestions=[SynonymSuggestionPublic(
        terms=list(s.terms), shared_products=s.shared_products, reformulations=s.reformulations, support=s.support)
        for s in found])


@router.get(":suggested", response_model=SynonymSuggestionsResponse, responses={
    409: {"model": ErrorResponse, "description": "Impressions are not logged on this server"}})
async def suggested_synonyms(engine: EngineDep, days: float = Query(30.0, gt=0, le=3660),
                             min_support: int = Query(3, ge=1, le=1000),
                             top: int = Query(50, ge=1, le=500)) -> SynonymSuggestionsResponse:
    """Pairs of terms the last ``days`` of logs suggest as synonyms (queries whose engagement lands
    on the same products; reformulations within a session), with their support. Never applied:
    approve one by PUTting it as a set."""
    return await run_in_threadpool(_suggestions, engine, days, min_support, top)
