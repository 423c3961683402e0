"""FastAPI dependencies: the engine the app was created with, and where CPU-bound work runs."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, HTTPException, Request

from shoprank.encoders.onnx_runtime import default_threads
from shoprank.engine import ShopRank

T = TypeVar("T")
# Voice queries waiting for a speech thread, per thread; more are told to retry instead of queueing.
SPEECH_QUEUE_PER_THREAD = 4


def get_engine(request: Request) -> ShopRank:
    return request.app.state.engine


EngineDep = Annotated[ShopRank, Depends(get_engine)]


async def compute(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run CPU-bound work (encoding a query, ranking) in a worker thread, at most
    ``settings.search_threads`` at once per process; the others wait without using a core."""
    state = request.app.state
    limiter = getattr(state, "compute_limiter", None)
    if limiter is None:  # made on the event loop, on first use (no await in between: no race)
        limiter = state.compute_limiter = anyio.CapacityLimiter(
            state.engine.settings.search_threads or default_threads())
    return await anyio.to_thread.run_sync(partial(fn, *args), limiter=limiter)


async def transcribe(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a transcription on its own small pool (``settings.speech_threads``), so voice queries
    never hold the threads text searches run on; past a short queue, a 503 to retry."""
    state = request.app.state
    limiter = getattr(state, "speech_limiter", None)
    if limiter is None:  # made on the event loop, as the compute limiter
        limiter = state.speech_limiter = anyio.CapacityLimiter(state.engine.settings.speech_threads)
        state.speech_admitted = 0
    # Counted here, on the event loop, with no await between the check and the count: the limiter's
    # own queue fills only once each admitted task reaches it, so a burst could all pass a check on it.
    if state.speech_admitted >= (1 + SPEECH_QUEUE_PER_THREAD) * limiter.total_tokens:
        raise HTTPException(503, "voice search is busy; retry shortly", headers={"Retry-After": "2"})
    state.speech_admitted += 1
    try:
        return await anyio.to_thread.run_sync(partial(fn, *args), limiter=limiter)
    finally:
        state.speech_admitted -= 1
