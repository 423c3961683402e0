"""POST /search: text, photo, or both; JSON or multipart."""
from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from shoprank.engine import QueryError
from shoprank.service.deps import EngineDep
from shoprank.service.schemas import ParsedQueryPublic, ResultPublic, SearchRequest, SearchResponse
from shoprank.types import Filters, Query, describe_error

router = APIRouter(tags=["search"])

_FORM_FIELDS = set(SearchRequest.model_fields)


async def _read_request(request: Request, max_bytes: int) -> tuple[SearchRequest, bytes | None]:
    ctype = request.headers.get("content-type", "")
    image: bytes | None = None
    try:
        if ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            fields = {k: v for k, v in form.items() if k in _FORM_FIELDS and isinstance(v, str) and v.strip() != ""}
            upload = form.get("image")
            if isinstance(upload, UploadFile):
                image = await upload.read(max_bytes + 1)
                if len(image) > max_bytes:
                    raise HTTPException(413, f"image larger than {max_bytes} bytes")
                if not image:
                    image = None
            body = SearchRequest.model_validate(fields)
        else:
            raw = await request.body()
            try:
                data = json.loads(raw or b"{}")
            except json.JSONDecodeError as e:
                raise HTTPException(400, f"body is not valid JSON: {e.msg}") from None
            if not isinstance(data, dict):
                raise HTTPException(400, "body must be a JSON object")
            body = SearchRequest.model_validate(data)
    except ValidationError as e:
        raise HTTPException(422, describe_error(e)) from None
    if not (body.q and body.q.strip()) and image is None and body.category is None:
        raise HTTPException(422, "give a text query 'q', a photo 'image', or a 'category' to browse")
    return body, image


@router.post("/search", response_model=SearchResponse)
async def search(request: Request, engine: EngineDep) -> SearchResponse:
    body, image = await _read_request(request, engine.settings.max_upload_bytes)
    query = Query(
        text=body.q, image=image, k=body.k, fusion=body.fusion, explain=body.explain,
        collapse_variants=body.collapse_variants,
        filters=Filters(category=body.category, price_min=body.price_min, price_max=body.price_max))
    try:
        res = await run_in_threadpool(engine.search, query)
    except QueryError as e:
        raise HTTPException(422, str(e)) from None
    parsed = None
    if res.parsed is not None:
        pq = res.parsed
        parsed = ParsedQueryPublic(colors=pq.colors, sizes=pq.sizes, gender=pq.gender,
                                   price_min=pq.price_min, price_max=pq.price_max)
    return SearchResponse(
        query=body.q, parsed=parsed, candidates=res.candidates, fusion=res.fusion, retrievers=res.retrievers,
        photo_labels=[(a, round(b, 4)) for a, b in res.photo_labels], timings_ms=res.timings_ms,
        results=[ResultPublic.from_hit(h) for h in res.hits])
