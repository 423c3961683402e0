"""The FastAPI application factory."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from shoprank.engine import ShopRank
from shoprank.service.routes import admin, events, health, products, search, suggest
from shoprank.service.watcher import watch_index


def create_app(engine: ShopRank) -> FastAPI:
    """An app serving ``engine``: the JSON API and the search page at ``/``."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Open the event log and profiles (catching up after a crash) before the first request.
        await run_in_threadpool(lambda: engine.personalizer)
        with watch_index(engine):  # new generations of the index, when settings.index_watch_s is set
            yield

    app = FastAPI(title="shoprank", version="0.1.0", summary="Multimodal product search", lifespan=lifespan)
    app.state.engine = engine
    for module in (search, suggest, products, events, health, admin):
        app.include_router(module.router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return resources.files("shoprank.service").joinpath("static/index.html").read_text(encoding="utf-8")

    return app
