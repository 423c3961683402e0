"""Operations on the running server: POST /admin/reload switches to the index's newest generation;
/admin/experiment starts, shows and stops an online experiment."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from shoprank.analytics.experiments import Experiment
from shoprank.engine import ReloadError
from shoprank.service.deps import EngineDep
from shoprank.service.guard import AUTH_RESPONSES, ERROR_RESPONSES, ErrorResponse, parse_json
from shoprank.service.openapi import EXPERIMENT_BODY
from shoprank.service.security import require
from shoprank.types import describe_error

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[require("admin")],
                   responses={**AUTH_RESPONSES, 409: {"model": ErrorResponse,
                                                      "description": "The new generation cannot be served"}})


class ReloadResponse(BaseModel):
    generation: str | None  # served now
    previous: str | None    # served before the call
    reloaded: bool          # false: the current generation was already served


@router.post("/reload", response_model=ReloadResponse)
async def reload(engine: EngineDep) -> ReloadResponse:
    """Serve the index's current generation (what the last `shoprank index` published).
    Searches in flight finish on the old one; no request fails during the switch."""
    previous = engine.generation
    try:
        reloaded = await run_in_threadpool(engine.reload)
    except ReloadError as e:
        raise HTTPException(409, str(e)) from None
    return ReloadResponse(generation=engine.generation, previous=previous, reloaded=reloaded)


class ExperimentState(BaseModel):
    experiment: Experiment | None  # the running one; null: none


@router.get("/experiment", response_model=ExperimentState)
async def get_experiment(engine: EngineDep) -> ExperimentState:
    return ExperimentState(experiment=engine.experiments.current())


@router.put("/experiment", response_model=ExperimentState, responses=ERROR_RESPONSES, openapi_extra=EXPERIMENT_BODY)
async def start_experiment(request: Request, engine: EngineDep) -> ExperimentState:
    """Start an A/B (``kind: ab``) or interleaving (``kind: interleave``) experiment between two
    arms, replacing any running one. Every process serving this index picks it up within a second."""
    raw = await request.body()
    if not isinstance(parse_json(raw), dict):  # the guard's reader: no NaN, no 1e400, bounded depth
        raise HTTPException(422, "body must be an experiment object")
    try:
        exp = Experiment.model_validate_json(raw, strict=True)
        await run_in_threadpool(engine.experiments.set, exp)
    except ValidationError as e:
        raise HTTPException(422, describe_error(e)) from None
    except ValueError as e:  # an arm's ranker cannot be built, e.g. no such saved model
        raise HTTPException(422, f"an arm cannot be served: {e}") from None
    except OSError as e:  # the server's own disk
        raise HTTPException(503, f"the experiment could not be stored: {e}") from None
    return ExperimentState(experiment=exp)


@router.delete("/experiment", response_model=ExperimentState)
async def stop_experiment(engine: EngineDep) -> ExperimentState:
    """Stop the running experiment: searches use the server's own ranking again. Its
    impressions stay for analysis."""
    await run_in_threadpool(engine.experiments.set, None)
    return ExperimentState(experiment=None)
