"""The served index's synonym sets, editable while serving (admin scope): every process serving
the index reads a change on its next search (this one at once, others within a second)."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from shoprank.query.synonym_store import ID_PATTERN, SynonymSet
from shoprank.service.deps import EngineDep
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES, ErrorResponse, parse_json
from shoprank.service.schemas import SynonymSetPublic, SynonymsResponse
from shoprank.service.security import require
from shoprank.types import describe_error

router = APIRouter(prefix="/admin/synonyms", tags=["admin"], dependencies=[require("admin")],
                   responses=AUTH_RESPONSES)
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


@router.put("/{sid}", response_model=SynonymSetPublic, responses=ERROR_RESPONSES, openapi_extra=SYNONYM_BODY)
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
    **ERROR_RESPONSES, 404: {"model": ErrorResponse, "description": "No such synonym set"}})
async def delete_synonyms(engine: EngineDep, sid: str = SetId) -> SynonymsResponse:
    """Delete the set ``sid``; the next search no longer reads it. Answers the sets left."""
    if not await run_in_threadpool(engine.synonyms.delete, sid):
        raise HTTPException(404, f"no synonym set {sid!r}")
    return await list_synonyms(engine)
