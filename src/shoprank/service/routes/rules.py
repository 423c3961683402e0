"""/admin/rules: merchandising rules (pin, hide, boost, bury) kept in the rule store, applied by
every process serving this home on its next search (another process's within a second)."""
from __future__ import annotations

import sqlite3
import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from shoprank import factory
from shoprank.engine import ShopRank
from shoprank.search.merch_rule import MerchRule, unknown_products
from shoprank.search.merchandising import previewing
from shoprank.search.rule_store import RuleStore
from shoprank.service.deps import EngineDep, compute
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES, ErrorResponse, parse_json
from shoprank.service.openapi import RULE_BODY
from shoprank.service.schemas import (
    ClickEstimatePublic,
    ResultPublic,
    RuleDeleted,
    RuleList,
    RulePreview,
    RulePublic,
)
from shoprank.service.security import require
from shoprank.types import Filters, describe_error
from shoprank.types import Query as SearchQuery

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[require("admin")],
                   responses={**ERROR_RESPONSES, **AUTH_RESPONSES})

RuleId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
NO_RULE: dict[int | str, dict[str, object]] = {404: {"model": ErrorResponse, "description": "No rule of this id"}}
RULES_OFF: dict[int | str, dict[str, object]] = {
    409: {"model": ErrorResponse, "description": "Merchandising rules are off on this server"}}
PREVIEW_K = 10
CLICK_LOG_DAYS = 90.0  # the logged pages a preview's click estimate is fitted on


def rule_store(request: Request) -> RuleStore:
    """This app's handle on the rule store, opened on first use."""
    state = request.app.state
    store = getattr(state, "rule_store", None)
    if store is None:
        store = state.rule_store = factory.rule_store(state.engine.settings)
    return store


def _known_category(engine: ShopRank, category: str) -> bool:
    page = Filters(category=category)
    return any(page.accepts(p) for p in engine.artifacts.catalog.live())


def check_rule(engine: ShopRank, raw: bytes) -> MerchRule:
    """The body as a rule whose products and categories the served catalog has, else a 422 saying why."""
    if not isinstance(parse_json(raw), dict):  # the guard's reader: no NaN, no 1e400, bounded depth
        raise HTTPException(422, "body must be a rule object")
    try:
        rule = MerchRule.model_validate_json(raw, strict=True)
    except ValidationError as e:
        raise HTTPException(422, describe_error(e)) from None
    if unknown := unknown_products(rule, lambda pid: engine.product(pid) is not None):
        raise HTTPException(422, f"unknown product ids: {unknown[:20]}")
    if missing := [c for c in rule.categories() if not _known_category(engine, c)]:
        raise HTTPException(422, f"no product is in the categories {missing}")
    return rule


def _public(rule_id: str, rule: MerchRule) -> RulePublic:
    return RulePublic(id=rule_id, active=rule.active(time.time()), rule=rule)


@router.get("/rules", response_model=RuleList)
async def list_rules(request: Request) -> RuleList:
    rules = await run_in_threadpool(rule_store(request).rules)
    return RuleList(rules=[_public(i, r) for i, r in sorted(rules.items())])


@router.get("/rules/{rule_id}", response_model=RulePublic, responses=NO_RULE)
async def get_rule(request: Request, rule_id: RuleId) -> RulePublic:
    rule = await run_in_threadpool(rule_store(request).get, rule_id)
    if rule is None:
        raise HTTPException(404, f"no rule {rule_id!r}")
    return _public(rule_id, rule)


@router.put("/rules/{rule_id}", response_model=RulePublic, openapi_extra=RULE_BODY)
async def put_rule(request: Request, engine: EngineDep, rule_id: RuleId) -> RulePublic:
    """Create or replace a rule, e.g. ``{"query": "backpack", "pin": ["id1"], "hide": ["id3"]}``;
    the next search applies it."""
    rule = await run_in_threadpool(check_rule, engine, await request.body())
    try:
        await run_in_threadpool(rule_store(request).put, rule_id, rule)
    except (OSError, sqlite3.Error) as e:  # the server's own disk, a lock held too long
        raise HTTPException(503, f"the rule could not be stored: {e}") from None
    return _public(rule_id, rule)


@router.delete("/rules/{rule_id}", response_model=RuleDeleted, responses=NO_RULE)
async def delete_rule(request: Request, rule_id: RuleId) -> RuleDeleted:
    try:
        deleted = await run_in_threadpool(rule_store(request).delete, rule_id)
    except (OSError, sqlite3.Error) as e:
        raise HTTPException(503, f"the rule could not be deleted: {e}") from None
    if not deleted:
        raise HTTPException(404, f"no rule {rule_id!r}")
    return RuleDeleted(id=rule_id, deleted=True)


def _preview(engine: ShopRank, rule_id: str, rule: MerchRule) -> tuple[list[ResultPublic], list[ResultPublic]]:
    query = SearchQuery(text=rule.query, k=PREVIEW_K, filters=Filters(category=rule.category) if rule.category
                        else Filters(), segments=rule.segments[:1])  # one of its shoppers
    before = engine.search(query)
    with previewing({rule_id: rule}):
        after = engine.search(query)
    return [ResultPublic.from_hit(h) for h in before.hits], [ResultPublic.from_hit(h) for h in after.hits]


def _clicks(engine: ShopRank, query: str | None, before: list[str],
            after: list[str]) -> tuple[ClickEstimatePublic | None, str | None]:
    from shoprank.analytics.report import join
    from shoprank.analytics.rule_clicks import estimate_clicks

    if query is None:
        return None, "category pages and site-wide rules have no query to look up in the log"
    log = engine.impressions
    if log is None:
        return None, "impressions are not logged on this server (SHOPRANK_LOG_IMPRESSIONS=false)"
    views = join(log.scan(since=time.time() - CLICK_LOG_DAYS * 86400.0), engine.personalizer.events.scan())
    est = estimate_clicks(views, query, before, after, PREVIEW_K)
    if est is None:
        return None, f"no logged searches for {query!r} in the last {CLICK_LOG_DAYS:g} days"
    return ClickEstimatePublic(before=est.before, after=est.after, change=round(est.change, 6), pages=est.pages,
                               unseen=est.unseen), None


@router.post("/rules:preview", response_model=RulePreview, responses=RULES_OFF, openapi_extra=RULE_BODY)
async def preview_rule(request: Request, engine: EngineDep,
                       rule_id: Annotated[str | None, Query(alias="id", min_length=1, max_length=100)] = None
                       ) -> RulePreview:
    """The top 10 of the rule's query (or category page) as served now and with the rule applied
    (replacing the stored rule ``id`` if given), and the expected clicks on each by the click model
    fitted on the query's logged pages: a rule's cost before turning it on."""
    if "merchandising" not in engine.settings.search_rules:
        raise HTTPException(409, "merchandising rules are off on this server (SHOPRANK_SEARCH_RULES)")
    rule = await run_in_threadpool(check_rule, engine, await request.body())
    before, after = await compute(request, _preview, engine, rule_id or "preview", rule)
    clicks, note = await run_in_threadpool(_clicks, engine, rule.query, [r.id for r in before], [r.id for r in after])
    was = {r.id: i for i, r in enumerate(before)}
    moved = sum(was.get(r.id) != i for i, r in enumerate(after)) + len(set(was) - {r.id for r in after})
    return RulePreview(id=rule_id, query=rule.query, category=rule.category, active=rule.active(time.time()),
                       before=before, after=after, moved=moved, clicks=clicks, clicks_note=note)
