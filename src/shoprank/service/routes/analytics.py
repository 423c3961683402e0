"""GET /admin/analytics: the search analytics report with its plots (the /analytics page shows it)."""
from __future__ import annotations

import base64
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from shoprank.engine import ShopRank
from shoprank.service.deps import EngineDep
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES
from shoprank.service.security import require

router = APIRouter(prefix="/admin", tags=["analytics"], dependencies=[require("admin")],
                   responses={**AUTH_RESPONSES, **ERROR_RESPONSES})


class AnalyticsResponse(BaseModel):
    report: dict[str, Any]     # AnalyticsReport as JSON: metrics overall, per arm and ranker, top queries...
    markdown: str              # the same as tables
    plots: dict[str, str]      # name -> data: URL of a PNG
    plots_unavailable: str | None = None  # why there are none (matplotlib, of the eval extra, missing)


def _report(engine: ShopRank, days: float, top: int, plots: bool) -> AnalyticsResponse:
    from shoprank.analytics.report import load_report

    log = engine.impressions
    if log is None:
        raise HTTPException(409, "impressions are not logged on this server (SHOPRANK_LOG_IMPRESSIONS=false)")
    rep = load_report(log, engine.personalizer.events, since=time.time() - days * 86400.0,
                      experiment=engine.experiments.current(), top_n=top)
    pngs: dict[str, str] = {}
    why = None
    if plots:
        try:
            from shoprank.analytics.plots import figures

            pngs = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in figures(rep).items()}
        except ImportError as e:  # the report stands without its pictures
            why = f"plots need matplotlib: pip install 'shoprank[eval]' ({e})"
    return AnalyticsResponse(report=rep.to_json(), markdown=rep.markdown(), plots=pngs, plots_unavailable=why)


@router.get("/analytics", response_model=AnalyticsResponse)
async def analytics(engine: EngineDep, days: float = Query(7.0, gt=0, le=3660), top: int = Query(15, ge=1, le=100),
                    plots: bool = True) -> AnalyticsResponse:
    """Searches over time, click-through and reciprocal rank of clicks, conversion, zero-result
    and no-click queries, latency, per experiment arm and ranker, over the last ``days``; with
    the running experiment's readout (A/B: Welch's t-test per shopper; interleaving: sign test)."""
    return await run_in_threadpool(_report, engine, days, top, plots)
