"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from recommendations_api.deps import MetricsDep, ReadinessDep
from recommendations_api.schemas import Health

router = APIRouter(tags=["operations"])


@router.get("/health/live", response_model=Health, response_model_exclude_none=True, summary="The process is up")
async def get_liveness() -> Health:
    return Health(status="live")


@router.get(
    "/health/ready",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "Store unreachable or nothing published; ``reason`` says which"}},
    summary="The store is reachable and holds a published version",
)
async def get_readiness(readiness_cache: ReadinessDep) -> Health | JSONResponse:
    """Asks the store at most every ``RECSYS_READINESS_TTL_MS``, off the event loop; while the store
    breaker is open, answers 503 without asking it."""
    readiness = await readiness_cache.readiness()
    if not readiness.ready or readiness.meta is None:
        body = Health(status="unready", reason=readiness.reason)
        return JSONResponse(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, content=body.model_dump(exclude_none=True))
    return Health(status="ready", version=readiness.meta.version, model_version=readiness.meta.model_version)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def get_metrics(metrics: MetricsDep) -> Response:
    return Response(content=metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
