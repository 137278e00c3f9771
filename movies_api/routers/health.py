"""Liveness, readiness (catalogue + publisher) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from movies_api.deps import CatalogDep, MetricsDep, PublisherDep, SettingsDep
from movies_api.schemas import Health
from recsys_common.ports.catalog import CatalogUnavailable
from recsys_common.ports.publisher import PublishError

router = APIRouter(tags=["health"])

OK = "ok"


@router.get("/health/live", response_model=Health, summary="The process answers")
def get_liveness() -> Health:
    return Health(status="ok")


@router.get(
    "/health/ready",
    response_model=Health,
    responses={503: {"model": Health, "description": "A dependency is down: `checks` says which and why"}},
    summary="The catalogue answers and the publisher accepts ratings",
)
def get_readiness(catalog: CatalogDep, publisher: PublisherDep, settings: SettingsDep, response: Response) -> Health:
    checks: dict[str, str] = {}
    try:
        catalog.ping()
        checks["catalog"] = OK
    except CatalogUnavailable as exc:
        checks["catalog"] = str(exc)
    try:
        publisher.check(settings.publish_timeout_s)
        checks["publisher"] = OK
    except PublishError as exc:
        checks["publisher"] = str(exc)
    if all(v == OK for v in checks.values()):
        return Health(status="ready", checks=checks)
    response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="unavailable", checks=checks)


@router.get("/metrics", include_in_schema=False)
def get_metrics(registry: MetricsDep) -> Response:
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
