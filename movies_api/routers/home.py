"""The home page of a viewer who is not signed in: IMDb-top rows, no request to the Recommendations API."""

from __future__ import annotations

from fastapi import APIRouter

from movies_api.deps import RecommendationsDep
from movies_api.routers.films import ERRORS_503
from movies_api.routers.users import DEFAULT_HOME_ROWS, DEFAULT_ROW_LIMIT, RowLimitQuery, RowsQuery, home_out
from movies_api.schemas import HomeOut

router = APIRouter(prefix="/api/v1", tags=["recommendations"])


@router.get("/home", response_model=HomeOut, responses=ERRORS_503, summary="The anonymous home page: IMDb-top rows")
async def get_home(
    service: RecommendationsDep, rows: RowsQuery = DEFAULT_HOME_ROWS, limit: RowLimitQuery = DEFAULT_ROW_LIMIT
) -> HomeOut:
    """IMDb-top overall (reason `top_rated`) and of the `rows` largest genres (`top_in_genre`)."""
    return home_out(await service.anonymous_home(rows, limit))
