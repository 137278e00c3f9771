"""The original system's route and shape, so its existing callers keep working."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from recommendations_api.deps import ServiceDep, UserIdPath
from recommendations_api.schemas import LegacyResponse, LegacyResult
from recommendations_api.service import ServiceUnavailable
from recsys_common.ids import validate_user_id

router = APIRouter(tags=["legacy"])


@router.get(
    "/v1/user/{user_id}",
    response_model=LegacyResponse,
    responses={
        422: {"model": LegacyResponse, "description": "Malformed user id; ``error`` says what is allowed"},
        503: {"model": LegacyResponse, "description": "The store is unreachable and no snapshot exists"},
    },
    summary="Must-watch list in the original system's shape",
)
async def get_legacy_user(user_id: UserIdPath, service: ServiceDep) -> LegacyResponse | JSONResponse:
    """``{"result": {"must_watch": [...]}, "error": null}``: the whole must-watch list (personal,
    else cold start, else fallback). Errors keep the shape: ``{"result": null, "error": "..."}``."""
    try:
        validate_user_id(user_id)
    except ValueError as exc:
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    try:
        answer = service.recommendations(user_id, None, limit=None)
    except ServiceUnavailable as exc:
        return _error(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
    return LegacyResponse(result=LegacyResult(must_watch=list(answer.film_ids)), error=None)


@router.get("/v1/user/{user_id:path}", include_in_schema=False)
async def refuse_legacy_user_id(user_id: str) -> JSONResponse:
    """An empty id, or one holding '/' (decoded from %2F before routing): the legacy 422 saying why."""
    try:
        validate_user_id(user_id)
    except ValueError as exc:
        return _error(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))
    return _error(status.HTTP_404_NOT_FOUND, "no such route")  # unreachable: valid ids match the route above


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=code, content=LegacyResponse(result=None, error=message).model_dump())
