"""Catalog writes while serving (admin scope): put, patch and delete products, one or in bulk.

Each product is validated as the importer validates a catalog row. A write is acknowledged
once it is in the index's write log (fsynced) and applied: the next search sees it.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from shoprank.catalog.fields import fold_keys, row_to_product
from shoprank.catalog.images import ImageRoot
from shoprank.catalog.videos import VideoRoot
from shoprank.engine import ShopRank
from shoprank.index.live import CatalogWrite
from shoprank.service.deps import EngineDep
from shoprank.service.guard import (
    AUTH_RESPONSES,
    ERROR_RESPONSES,
    NOT_FOUND,
    UNSUPPORTED_MEDIA,
    loads_strict,
    parse_json,
    require_media,
)
from shoprank.service.security import require
from shoprank.types import Product, describe_error

router = APIRouter(tags=["catalog"], dependencies=[require("admin")],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})
MAX_BULK_LINES = 10_000
NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json")
_PATCHABLE = frozenset(Product.model_fields) - {"id", "video_frames"}  # the index sets video_frames


class WriteResult(BaseModel):
    id: str
    seq: int  # the write's number in the index's write log
    catalog_seq: int  # the last write the served index holds (>= seq: it is searchable)


class RejectedLine(BaseModel):
    line: int
    reason: str


class BulkResult(BaseModel):
    accepted: int
    seq: list[int]
    rejected: list[RejectedLine]
    catalog_seq: int


async def _object(request: Request) -> dict[str, Any]:
    require_media(request, "application/json")
    data = parse_json(await request.body())
    if not isinstance(data, dict):
        raise HTTPException(422, "body must be a JSON object (a product)")
    return data


def _images(engine: ShopRank, p: Product) -> Product:
    """Resolve photo and video paths inside the allowed folder; a product written over HTTP names no other file."""
    if not p.images and not p.videos:
        return p
    root = engine.settings.image_root
    if root is None:
        raise ValueError(f"{'images' if p.images else 'videos'}: media paths are refused unless SHOPRANK_IMAGE_ROOT "
                         "names their folder")
    media = {}
    for name, checker in (("images", ImageRoot(root)), ("videos", VideoRoot(root))):
        if getattr(p, name):
            media[name] = list(dict.fromkeys(checker.resolve(raw) for raw in getattr(p, name)))
    return p.model_copy(update=media)


def _product(engine: ShopRank, row: dict[str, Any], pid: str | None) -> Product:
    if pid is not None:
        # Column names match case-insensitively: "ID" in the body names the product as "id" does.
        row = fold_keys(row)
        given = row.get("id")
        if given is not None and str(given) != pid:
            raise ValueError(f"id: the body says {given!r}, the path {pid!r}")
        row = {**row, "id": pid}
    return _images(engine, row_to_product(row))


async def _write(engine: ShopRank, writes: list[CatalogWrite]) -> list[int]:
    try:
        return await run_in_threadpool(engine.write, writes)
    except RuntimeError as e:  # an engine serving handed-over artifacts has no write log
        raise HTTPException(409, str(e)) from None


@router.put("/products/{pid}", response_model=WriteResult, responses=UNSUPPORTED_MEDIA, openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": {"type": "object"}}}}})
async def put_product(pid: str, request: Request, engine: EngineDep) -> WriteResult:
    """Add or replace a product (a catalog row: the importer's field names). A change of price,
    stock, rating or sales alone encodes nothing."""
    try:
        p = _product(engine, await _object(request), pid)
    except (ValueError, ValidationError) as e:
        raise HTTPException(422, describe_error(e)) from None
    [seq] = await _write(engine, [CatalogWrite.put(p)])
    return WriteResult(id=pid, seq=seq, catalog_seq=engine.catalog_seq)


@router.patch("/products/{pid}", response_model=WriteResult, responses={**NOT_FOUND, **UNSUPPORTED_MEDIA},
              openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": {"type": "object"}}}}})
async def patch_product(pid: str, request: Request, engine: EngineDep) -> WriteResult:
    """Change some fields of a product (``{"price": 19.9, "stock": 0}``); null resets a field.
    Field names are the product's own (see GET /products/{pid})."""
    body = fold_keys(await _object(request))
    given = body.pop("id", None)
    if given is not None and str(given) != pid:
        raise HTTPException(422, f"id: the body says {given!r}, the path {pid!r}")
    unknown = sorted(set(body) - _PATCHABLE)
    if unknown:
        raise HTTPException(422, f"cannot patch {unknown}; fields: {', '.join(sorted(_PATCHABLE))}")
    current = engine.product(pid)
    if current is None:
        raise HTTPException(404, f"no product with id {pid!r}")
    try:
        # Only the patched fields are parsed: the others stay exactly as they are (parsing a
        # title again would unescape it once more, and make a price change a content change).
        parsed = row_to_product({"id": pid, "title": current.title, **body})
        p = Product.model_validate({**current.model_dump(), **{k: getattr(parsed, k) for k in body}})
        if "images" in body or "videos" in body:
            p = _images(engine, p)
    except (ValueError, ValidationError) as e:
        raise HTTPException(422, describe_error(e)) from None
    [seq] = await _write(engine, [CatalogWrite.put(p)])
    return WriteResult(id=pid, seq=seq, catalog_seq=engine.catalog_seq)


@router.delete("/products/{pid}", response_model=WriteResult, responses=NOT_FOUND)
async def delete_product(pid: str, engine: EngineDep) -> WriteResult:
    """Withdraw a product: it leaves search, similar items, autocomplete and recommendations."""
    if engine.product(pid) is None:
        raise HTTPException(404, f"no product with id {pid!r}")
    [seq] = await _write(engine, [CatalogWrite.delete(pid)])
    return WriteResult(id=pid, seq=seq, catalog_seq=engine.catalog_seq)


# NDJSON, not text/plain: a browser sends text/plain cross-origin without asking (see require_media).
@router.post("/products:bulk", response_model=BulkResult, responses=UNSUPPORTED_MEDIA, openapi_extra={
    "requestBody": {"required": True, "content": {
        "application/x-ndjson": {"schema": {"type": "string", "description": "one JSON object per line"}}}}})
async def bulk(request: Request, engine: EngineDep) -> BulkResult:
    """NDJSON, one write per line: a product (added or replaced) or ``{"delete": "<id>"}``. A bad
    line is rejected with its number and reason; the others are applied, in order."""
    require_media(request, *NDJSON_TYPES)
    try:
        text = (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise HTTPException(400, f"body is not UTF-8 (byte {e.start})") from None
    # Lines end at \n only (NDJSON): str.splitlines would also split at U+2028, U+2029 and U+0085,
    # which JSON strings may hold, and number every later line wrong.
    lines = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not lines:
        raise HTTPException(422, "no writes: send one JSON object per line")
    if len(lines) > MAX_BULK_LINES:
        raise HTTPException(413, f"at most {MAX_BULK_LINES} writes per request, got {len(lines)}")
    writes: list[CatalogWrite] = []
    rejected: list[RejectedLine] = []
    for n, line in lines:
        try:
            row = loads_strict(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            if set(row) == {"delete"}:
                if not isinstance(row["delete"], str) or not row["delete"].strip():
                    raise ValueError("delete: give a product id")
                writes.append(CatalogWrite.delete(row["delete"].strip()))
            else:
                writes.append(CatalogWrite.put(_product(engine, row, None)))
        except (ValueError, ValidationError) as e:
            rejected.append(RejectedLine(line=n, reason=describe_error(e)))
    if not writes:
        raise HTTPException(422, "no valid line; " + "; ".join(f"line {r.line}: {r.reason}" for r in rejected[:5]))
    seqs = await _write(engine, writes)
    return BulkResult(accepted=len(seqs), seq=seqs, rejected=rejected, catalog_seq=engine.catalog_seq)
