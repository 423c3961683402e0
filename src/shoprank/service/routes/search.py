"""POST /search: text, photo, voice, or a combination; JSON or multipart."""
from __future__ import annotations

import logging
import random
import sqlite3
import time

from fastapi import APIRouter, HTTPException, Request
from PIL import Image
from pydantic import ValidationError
from python_multipart.multipart import parse_options_header
from starlette.datastructures import UploadFile

from shoprank.analytics.impressions import Impression, SearchKind, new_search_id
from shoprank.config import Settings
from shoprank.engine import QueryError, QueryTooLarge, ShopRank
from shoprank.search import SearchResult
from shoprank.service.deps import EngineDep, compute, transcribe
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES, parse_json
from shoprank.service.openapi import SEARCH_BODY
from shoprank.service.schemas import (
    JSON_BODY,
    FacetValuePublic,
    ParsedQueryPublic,
    ResultPublic,
    RewritePublic,
    SearchRequest,
    SearchResponse,
    TranscriptPublic,
)
from shoprank.service.security import require
from shoprank.types import Filters, Query, describe_error

logger = logging.getLogger(__name__)
router = APIRouter(tags=["search"], dependencies=[require("search")],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

_FORM_FIELDS = set(SearchRequest.model_fields)
_BOOL_FIELDS = sorted(k for k, f in SearchRequest.model_fields.items() if f.annotation is bool)


async def _upload(form, name: str, max_bytes: int) -> bytes | None:
    upload = form.get(name)
    if not isinstance(upload, UploadFile):
        return None
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise HTTPException(413, f"{name} larger than {max_bytes} bytes")
    if not data and upload.filename:  # a named file with nothing in it (a browser's unused input has no name)
        raise HTTPException(422, f"{name}: the uploaded file {upload.filename!r} is empty")
    return data or None


def _check_multipart_complete(raw: bytes, ctype: str) -> None:
    # The form parser keeps the fields it saw before a body is cut short: refuse such a body instead.
    _, params = parse_options_header(ctype)
    boundary = params.get(b"boundary")
    if not boundary:
        raise HTTPException(400, "multipart body without a boundary in its Content-Type")
    if not raw.rstrip().endswith(b"--" + boundary + b"--"):
        raise HTTPException(400, "multipart body is incomplete: its closing boundary is missing")


async def _read_request(request: Request,
                        max_bytes: int) -> tuple[SearchRequest, bytes | None, bytes | None, bytes | None]:
    ctype = request.headers.get("content-type", "")
    image: bytes | None = None
    audio: bytes | None = None
    video: bytes | None = None
    try:
        if ctype.startswith("multipart/form-data") or ctype.startswith("application/x-www-form-urlencoded"):
            if ctype.startswith("multipart/"):
                # Read whole first (bounded by the request guard); the form parser then reuses it.
                _check_multipart_complete(await request.body(), ctype)
            form = await request.form()
            fields = {k: v for k, v in form.items() if k in _FORM_FIELDS and isinstance(v, str) and v.strip() != ""}
            image = await _upload(form, "image", max_bytes)
            audio = await _upload(form, "audio", max_bytes)
            video = await _upload(form, "video", max_bytes)
            bad = [k for k in _BOOL_FIELDS if k in fields and fields[k] not in ("true", "false")]
            if bad:  # as the form's schema says: no "0", "yes" or "on"
                raise HTTPException(422, f"{bad[0]}: give true or false, not {fields[bad[0]]!r}")
            body = SearchRequest.model_validate(fields)
        else:
            data = parse_json(await request.body())
            if not isinstance(data, dict):
                raise HTTPException(422, "body must be a JSON object")
            body = SearchRequest.model_validate(data, strict=True, context=JSON_BODY)
    except ValidationError as e:
        raise HTTPException(422, describe_error(e)) from None
    if not (body.q and body.q.strip()) and image is None and audio is None and video is None \
            and body.category is None:
        raise HTTPException(422, "give a text query 'q', a photo 'image', a video 'video', a voice query 'audio', "
                                 "or a 'category' to browse")
    if image is not None and video is not None:
        raise HTTPException(422, "give a photo 'image' or a video 'video', not both")
    return body, image, audio, video


def _video_frames(data: bytes, settings: Settings) -> list[Image.Image]:
    """A video query's keyframes, under the catalog's video bounds: a refused clip is a 422."""
    from shoprank.encoders.video_decode import VideoError, VideoLimits, decode_video
    from shoprank.registry import MissingExtraError

    try:
        return [k.image for k in decode_video(data, VideoLimits.from_settings(settings)).keyframes]
    except VideoError as e:
        raise HTTPException(422, f"video: {e}") from None
    except MissingExtraError:
        raise HTTPException(422, "video search is unavailable on this server (pip install 'shoprank[video]')") \
            from None


def _kind(text: str | None, photo: bool, voice: bool) -> SearchKind:
    words = "voice" if voice else "text" if text and text.strip() else ""
    if photo:
        return f"{words}+photo" if words else "photo"  # type: ignore[return-value]
    return words or "browse"  # type: ignore[return-value]


def _search_logged(engine: ShopRank, query: Query, body: SearchRequest, kind: SearchKind) -> tuple[str, SearchResult]:
    """Search as the running experiment says, and log the impression (in the same worker
    thread, before the response: an answered search is on record)."""
    search_id = new_search_id()
    t0 = time.perf_counter()
    served = engine.experiments.serve(query, body.user_id or body.session_id, random.Random(search_id))
    latency_ms = (time.perf_counter() - t0) * 1000
    log = engine.impressions
    if log is not None:
        f = query.filters
        filters = {k: v for k, v in f.model_dump(exclude_defaults=True).items() if v not in (None, [], False)}
        imp = Impression(
            search_id=search_id, ts=time.time(), kind=kind, products=tuple(h.product.id for h in served.result.hits),
            query=query.text, user_id=body.user_id, session_id=body.session_id, filters=filters, sort=query.sort,
            ranker=served.ranker, experiment=served.experiment, arm=served.arm,
            teams=served.teams, candidates=served.result.candidates, latency_ms=round(latency_ms, 3),
            personalized=served.result.personalized)
        try:
            log.append(imp)
        except sqlite3.Error as e:  # e.g. locked past the busy timeout: the shopper still gets results
            engine.impressions_dropped += 1
            logger.error("impression of search %s not logged (%d so far): %s", search_id,
                         engine.impressions_dropped, e)
    return search_id, served.result


@router.post("/search", response_model=SearchResponse, openapi_extra=SEARCH_BODY)
async def search(request: Request, engine: EngineDep) -> SearchResponse:
    """Search by text, photo (``image``) or video (``video``: its keyframes pooled into one photo),
    voice (``audio``: wav/webm/ogg), or a combination.

    A voice query is transcribed first; the transcript is searched and returned. A transcript the
    recognizer is unsure of comes back with ``understood: false`` and a reason, and is not searched
    (a photo or category sent with it still is)."""
    body, image, audio, video = await _read_request(request, engine.settings.max_upload_bytes)
    # Decoded by the search workers: at most search_threads decodes at once, each bounded in time.
    frames = await compute(request, _video_frames, video, engine.settings) if video is not None else []
    transcript = None
    text = body.q
    try:
        if audio is not None:
            t = await transcribe(request, engine.models.transcribe, audio)
            request.app.state.access.charge_audio(request, t.duration_s)
            if not t.text.strip():
                raise HTTPException(422, "no speech was recognised in the audio")
            s = engine.settings
            reason = t.understood(s.voice_min_avg_logprob, s.voice_max_no_speech_prob)
            transcript = TranscriptPublic(text=t.text, language=t.language, duration_s=round(t.duration_s, 3),
                                          backend=t.backend, seconds=round(t.seconds, 3),
                                          understood=reason is None, reason=reason)
            text = t.text if reason is None else None
            if reason is not None and image is None and not frames and body.category is None:
                return SearchResponse(search_id=new_search_id(), query=None, transcript=transcript, parsed=None,
                                      candidates=0, fusion=body.fusion or s.fusion, retrievers=[],
                                      timings_ms={"transcribe": round(t.seconds * 1000, 3)}, sort=body.sort,
                                      user_id=body.user_id, results=[])
        query = Query(
            text=text, image=image, frames=frames, k=body.k, fusion=body.fusion, explain=body.explain,
            collapse_variants=body.collapse_variants, sort=body.sort, user_id=body.user_id or body.session_id,
            personalize=body.personalize, out_of_stock_last=body.out_of_stock_last,
            typo_tolerance=body.typo_tolerance, segments=body.segments,
            filters=Filters(category=body.category, price_min=body.price_min, price_max=body.price_max,
                            colors=body.colors, rating_min=body.rating_min, in_stock=body.in_stock))
        kind = _kind(text, image is not None or bool(frames), audio is not None)  # a video query is a photo query
        search_id, res = await compute(request, _search_logged, engine, query, body, kind)
    except QueryTooLarge as e:
        raise HTTPException(413, str(e)) from None
    except QueryError as e:
        raise HTTPException(422, str(e)) from None
    parsed = None
    if res.parsed is not None:
        pq = res.parsed
        parsed = ParsedQueryPublic(types=pq.types, colors=pq.colors, sizes=pq.sizes, gender=pq.gender,
                                   price_min=pq.price_min, price_max=pq.price_max,
                                   price_note=pq.price_note)
    return SearchResponse(
        search_id=search_id, query=text, transcript=transcript, parsed=parsed, searched=res.query_text,
        rewrites=[RewritePublic(text=r.text, origin=r.origin, weight=r.weight, replaces=r.replaces, reason=r.reason,
                                edits=r.edits)
                  for r in res.rewrites], did_you_mean=res.did_you_mean, auto_corrected=res.auto_corrected,
        candidates=res.candidates,
        fusion=res.fusion,
        retrievers=res.retrievers, photo_labels=[(a, round(b, 4)) for a, b in res.photo_labels],
        timings_ms=res.timings_ms,
        facets={name: [FacetValuePublic(value=v.value, count=v.count, min=v.min, max=v.max) for v in values]
                for name, values in res.facets.items()}, matches=res.matches,
        sort=body.sort, user_id=body.user_id, personalized=res.personalized, profile_events=res.profile_events,
        results=[ResultPublic.from_hit(h) for h in res.hits])
