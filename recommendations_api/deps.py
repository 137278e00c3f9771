"""Request dependencies: the service, the readiness cache and validated parameters.

They are ``async`` on purpose: FastAPI runs plain functions in a thread pool, which would cost more
than the work they do. The hot route takes the service from ``request.app.state`` itself: a
dependency costs ~10 us per request there.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from recommendations_api.metrics import Metrics
from recommendations_api.readiness import ReadinessCache
from recommendations_api.service import RecommendationService
from recsys_common.ids import USER_ID_MAX_LEN, validate_user_id
from recsys_common.web import USER_ID_SCHEMA, invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
GENRE_MAX_LEN = 64
USER_ID_LOC = ("path", "user_id")


async def get_service(request: Request) -> RecommendationService:
    service: RecommendationService = request.app.state.service
    return service


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_readiness(request: Request) -> ReadinessCache:
    readiness: ReadinessCache = request.app.state.readiness
    return readiness


def checked_user_id(user_id: str) -> str:
    """The user id unchanged, or a 422 saying what the alphabet allows (``validate_user_id``)."""
    try:
        return validate_user_id(user_id)
    except ValueError as exc:
        raise invalid(USER_ID_LOC, str(exc)) from exc


ServiceDep = Annotated[RecommendationService, Depends(get_service)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ReadinessDep = Annotated[ReadinessCache, Depends(get_readiness)]
#: Documented with the alphabet's schema, checked by ``checked_user_id`` (its messages say what is wrong).
UserIdPath = Annotated[
    str,
    Path(
        description=f"Opaque user id: 1..{USER_ID_MAX_LEN} characters, no control characters, no '/'",
        examples=["42"],
        json_schema_extra=USER_ID_SCHEMA,
    ),
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"How many film ids, 1..{MAX_LIMIT}", examples=[DEFAULT_LIMIT])
]
GenreQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=GENRE_MAX_LEN,
        description="A published genre (case-insensitive); unknown genres get 404 listing the allowed ones",
        examples=["Drama"],
    ),
]
