"""Shopper events and what they build: POST /events, profiles, "for you", forgetting a user."""
from __future__ import annotations

import time

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from shoprank.analytics.impressions import ImpressionLog
from shoprank.service.deps import EngineDep
from shoprank.service.guard import (
    AUTH_RESPONSES,
    ERROR_RESPONSES,
    NOT_FOUND,
    UNSUPPORTED_MEDIA,
    parse_json,
    require_media,
)
from shoprank.service.openapi import EVENTS_BODY
from shoprank.service.schemas import (
    EventsAccepted,
    ForgetResponse,
    ProfilePublic,
    RecentEvent,
    RecommendationsResponse,
    RejectedEvent,
    ResultPublic,
)
from shoprank.service.security import require, require_user_or_admin
from shoprank.types import Event, Hit, describe_error, event_time_problem

router = APIRouter(tags=["personalization"], responses={**ERROR_RESPONSES, **AUTH_RESPONSES})
# A shopper's own data: the admin key, or that shopper's X-User-Token.
_OWNER = [Depends(require_user_or_admin)]
MAX_BATCH = 1000


def _parse_events(raw: bytes) -> tuple[list[Event], list[int], list[RejectedEvent]]:
    data = parse_json(raw)
    if isinstance(data, dict) and "events" in data:
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(x, dict) for x in items):
        raise HTTPException(422, "body must be an event object, a list of them, or {\"events\": [...]}")
    if len(items) > MAX_BATCH:
        raise HTTPException(422, f"at most {MAX_BATCH} events per request, got {len(items)}")
    events, index, rejected = [], [], []
    now = time.time()
    for i, item in enumerate(items):
        try:
            e = Event.model_validate(item, strict=True)  # the types the schema says: no false for a number
        except ValidationError as err:
            rejected.append(RejectedEvent(index=i, reason=describe_error(err)))
            continue
        # A time far off (milliseconds, 0, next year) would outweigh or silence the shopper's
        # every other event in the decayed profile.
        problem = event_time_problem(e.ts, now) if e.ts is not None else None
        if problem is not None:
            rejected.append(RejectedEvent(index=i, reason=problem))
            continue
        events.append(e)
        index.append(i)
    return events, index, rejected


@router.post("/events", response_model=EventsAccepted, dependencies=[require("events")],
             responses=UNSUPPORTED_MEDIA, openapi_extra=EVENTS_BODY)
async def post_events(request: Request, engine: EngineDep) -> EventsAccepted:
    """Record click/cart/purchase/view events. When this returns, the events are on disk and
    the shoppers' next searches use them (once the profile store answers, if it is down). Bad
    events are rejected one by one, with a reason. An ``event_id`` sent again is not counted twice."""
    require_media(request, "application/json")  # a page on another origin cannot send it unasked
    events, index, rejected = _parse_events(await request.body())
    p = engine.personalizer
    for j in sorted(p.unknown_products(events), reverse=True):
        rejected.append(RejectedEvent(index=index[j], reason=f"product_id: unknown product {events[j].product_id!r}"))
        del events[j], index[j]
    if engine.impressions is not None and any(e.search_id is not None or e.position is not None for e in events):
        checked = await run_in_threadpool(_check_searches, engine.impressions, events)
        for j in sorted(checked, reverse=True):
            fixed, reason = checked[j]
            if reason is not None:
                rejected.append(RejectedEvent(index=index[j], reason=reason))
                del events[j], index[j]
            elif fixed is not None:
                events[j] = fixed
    if not events:
        raise HTTPException(422, "; ".join(f"event {r.index}: {r.reason}" for r in sorted(rejected,
                                                                                          key=lambda r: r.index)))
    stored = await run_in_threadpool(p.record, events)
    return EventsAccepted(accepted=len(stored), seq=[s.seq for s in stored],
                          rejected=sorted(rejected, key=lambda r: r.index),
                          duplicates=sum(s.duplicate for s in stored))


def _check_searches(log: ImpressionLog, events: list[Event]) -> dict[int, tuple[Event | None, str | None]]:
    """Events that name a search must name one that was served, with the product where it was
    shown: ``{index: (event with its position filled in, or None; reason to reject, or None)}``.

    Only a click (or a view giving its position) is refused when it does not match its search:
    it would teach the click models a lie. A cart, a purchase or a view without a position is
    kept without its search attribution (the shopper did it, whatever page it came from)."""
    shown: dict[str, tuple[str, ...] | None] = {}
    out: dict[int, tuple[Event | None, str | None]] = {}
    for j, e in enumerate(events):
        if e.search_id is None:
            if e.position is not None:
                out[j] = (None, "position: give the search_id of the page it refers to")
            continue
        if e.search_id not in shown:
            imp = log.get(e.search_id)
            shown[e.search_id] = imp.products if imp is not None else None
        products = shown[e.search_id]
        if products is None:
            reason = f"search_id: no search {e.search_id!r} was served"
        elif e.position is not None:
            if e.position <= len(products) and products[e.position - 1] == e.product_id:
                continue
            reason = f"position: product {e.product_id!r} was not at position {e.position} of search {e.search_id!r}"
        elif e.product_id in products:
            out[j] = (e.model_copy(update={"position": products.index(e.product_id) + 1}), None)
            continue
        else:
            reason = f"search_id: search {e.search_id!r} did not show product {e.product_id!r}"
        if e.type == "click" or (e.type == "view" and e.position is not None):
            out[j] = (None, reason)
        else:
            out[j] = (e.model_copy(update={"search_id": None, "position": None}), None)
    return out


@router.delete("/users/{user_id}", response_model=ForgetResponse, dependencies=_OWNER)
async def forget_user(user_id: str, engine: EngineDep) -> ForgetResponse:
    """Forget a shopper: their events and profiles (and their sessions') leave every store."""
    gone, impressions = await run_in_threadpool(engine.personalization.forget, user_id)
    return ForgetResponse(user_id=user_id, events_deleted=gone.events, profiles_deleted=gone.profiles,
                          impressions_deleted=impressions)


@router.get("/users/{user_id}/profile", response_model=ProfilePublic, dependencies=_OWNER)
async def profile(user_id: str, engine: EngineDep, top: int = Query(8, ge=1, le=50)) -> ProfilePublic:
    p = await run_in_threadpool(engine.personalizer.profile, user_id)
    if p is None:  # cold start: an empty profile, not an error
        return ProfilePublic(user_id=user_id, n_events=0, updated=0.0, affinities={}, recent=[])
    families: dict[str, dict[str, float]] = {}
    for fam in sorted({k.split(":", 1)[0] for k in p.affinity}):
        shares = p.affinity_share(fam + ":")
        best = sorted(shares.items(), key=lambda kv: -kv[1])[:top]
        families[fam] = {k.split(":", 1)[1]: round(v, 4) for k, v in best}
    return ProfilePublic(user_id=user_id, n_events=p.n_events, updated=p.updated, affinities=families,
                         recent=[RecentEvent(product_id=pid, type=kind, ts=ts) for pid, kind, ts in p.recent[-top:]])


@router.get("/users/{user_id}/recommendations", response_model=RecommendationsResponse, dependencies=_OWNER)
async def for_you(user_id: str, engine: EngineDep, k: int = Query(10, ge=1, le=100)) -> RecommendationsResponse:
    """"For you": collaborative filtering from the shopper's recent items (empty at cold start)."""
    p = engine.personalizer
    recs = await run_in_threadpool(p.for_you, user_id, k)
    source = type(p.recommender).__name__ if p.recommender is not None else "none: no collaborative model yet"
    return RecommendationsResponse(id=user_id, source=source, results=_results(engine, recs))


@router.get("/products/{product_id}/bought-together", response_model=RecommendationsResponse,
            dependencies=[require("search")], responses=NOT_FOUND)
async def bought_together(product_id: str, engine: EngineDep,
                          k: int = Query(10, ge=1, le=100)) -> RecommendationsResponse:
    if engine.product(product_id) is None:
        raise HTTPException(404, f"unknown product {product_id!r}")
    recs = await run_in_threadpool(engine.personalizer.bought_together, product_id, k)
    return RecommendationsResponse(id=product_id, source="item-item co-occurrence of carts and purchases",
                                   results=_results(engine, recs))


def _results(engine, recs: list[tuple[str, float]]) -> list[ResultPublic]:
    out = []
    for pid, score in recs:
        prod = engine.product(pid)
        if prod is not None:
            out.append(ResultPublic.from_hit(Hit(product=prod, score=float(score))))
    return out
