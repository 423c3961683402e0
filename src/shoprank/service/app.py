"""The FastAPI application factory."""
from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response

from shoprank.engine import ShopRank
from shoprank.service.guard import PAGE_CSP, RequestGuard, install_error_handlers
from shoprank.service.openapi import install_openapi
from shoprank.service.routes import (
    admin,
    analytics,
    catalog,
    events,
    health,
    products,
    rules,
    search,
    suggest,
    synonyms,
)
from shoprank.service.security import Access, check_production, startup_warning
from shoprank.service.watcher import follow_writes, watch_index

log = logging.getLogger("shoprank")
PAGE_SCRIPTS = frozenset({"search.js", "analytics.js", "admin.js"})  # the pages' scripts, under static/


def create_app(engine: ShopRank) -> FastAPI:
    """An app serving ``engine``: the JSON API and the search page at ``/``."""
    settings = engine.settings
    check_production(settings)
    access = Access(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if (warning := startup_warning(access)) is not None:
            log.warning(warning)
        # Open the event log and profiles (catching up after a crash) before the first request.
        await run_in_threadpool(lambda: engine.personalizer)
        # Load the encoders now, not in the first photo search or catalog write.
        await run_in_threadpool(lambda: (engine.text_encoder, engine.image_encoder))
        # A saved tree model explains through LightGBM, loaded lazily: base_score() loads it now,
        # not in the first "why this result" search (~0.1 s).
        await run_in_threadpool(engine.ranker.base_score)
        # What is loaded now lives as long as the server: keep it out of the cyclic collector,
        # whose full passes over it (~40 ms on Luma, all threads stopped) set the p99 under load.
        gc.freeze()
        # New generations of the index (settings.index_watch_s), and catalog writes other
        # processes log (settings.catalog_poll_s).
        with watch_index(engine), follow_writes(engine):
            yield

    docs = settings.docs if settings.docs is not None else settings.env == "dev"
    app = FastAPI(title="shoprank", version="0.1.0", summary="Multimodal product search", lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None)
    app.state.engine = engine
    app.state.access = access
    for module in (search, suggest, products, catalog, events, health, admin, rules, synonyms, analytics):
        app.include_router(module.router)
    install_error_handlers(app)
    install_openapi(app)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Content-Type", "X-API-Key", "X-User-Token"], max_age=600)
    # Room for a photo and a voice clip in one form, plus its text fields.
    app.add_middleware(RequestGuard, max_body=settings.max_body_bytes,
                       max_multipart=2 * settings.max_upload_bytes + 64 * 1024,
                       larger={"/products:bulk": settings.max_bulk_bytes})

    def static_page(name: str) -> HTMLResponse:
        html = resources.files("shoprank.service").joinpath(f"static/{name}").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/static/{name}", include_in_schema=False)
    def page_script(name: str) -> Response:
        if name not in PAGE_SCRIPTS:
            raise HTTPException(404, f"no such file: {name}")
        js = resources.files("shoprank.service").joinpath(f"static/{name}").read_text(encoding="utf-8")
        return Response(js, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return static_page("index.html")

    @app.get("/analytics", response_class=HTMLResponse, include_in_schema=False)
    def analytics_page() -> HTMLResponse:
        """The analytics dashboard: a page that asks /admin/analytics (with the admin key) for its data."""
        return static_page("analytics.html")

    return app
