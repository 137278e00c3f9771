"""Request dependencies: the service and validated parameters.

They are ``async`` on purpose: FastAPI runs plain functions in a thread pool, which would cost more
than the work they do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, status

from recommendations_api.metrics import Metrics
from recommendations_api.service import RecommendationService
from recsys_common.ids import USER_ID_MAX_LEN, validate_user_id

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
GENRE_MAX_LEN = 64


async def get_service(request: Request) -> RecommendationService:
    service: RecommendationService = request.app.state.service
    return service


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def valid_user_id(
    user_id: Annotated[
        str,
        Path(
            description=f"Opaque user id: 1..{USER_ID_MAX_LEN} characters, no control characters",
            examples=["42"],
        ),
    ],
) -> str:
    try:
        return validate_user_id(user_id)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


ServiceDep = Annotated[RecommendationService, Depends(get_service)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
UserIdDep = Annotated[str, Depends(valid_user_id)]
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
