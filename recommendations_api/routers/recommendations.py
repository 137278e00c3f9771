"""A user's recommendations: must-watch (or one genre) and all genre lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status

from recommendations_api.deps import DEFAULT_LIMIT, GenreQuery, LimitQuery, ServiceDep, UserIdDep
from recommendations_api.schemas import GenreRecommendations, Problem, Recommendations

router = APIRouter(prefix="/api/v1/users", tags=["recommendations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "Unknown genre: the message lists the allowed genres"},
    503: {"model": Problem, "description": "The store is unreachable and no snapshot was read since start"},
}


@router.get(
    "/{user_id}/recommendations",
    response_model=Recommendations,
    responses=ERRORS,
    summary="A user's must-watch list, or their list of one genre",
)
async def user_recommendations(
    user_id: UserIdDep, service: ServiceDep, limit: LimitQuery = DEFAULT_LIMIT, genre: GenreQuery = None
) -> Recommendations:
    """The user's personal list when they have one (``source: personal``), otherwise the IMDb-top
    cold-start list (``cold_start``); while the store is unreachable, the cold-start list of the
    last version read (``fallback``)."""
    answer = service.recommendations(user_id, genre, limit)
    return Recommendations(
        user_id=user_id,
        genre=answer.genre,
        source=answer.source,
        model_version=answer.model_version,
        generated_at=answer.generated_at,
        film_ids=list(answer.film_ids),
    )


@router.get(
    "/{user_id}/recommendations/genres",
    response_model=GenreRecommendations,
    responses=ERRORS,
    summary="All of a user's per-genre lists",
)
async def user_genre_recommendations(user_id: UserIdDep, service: ServiceDep) -> GenreRecommendations:
    answer = service.genre_lists(user_id)
    return GenreRecommendations(
        user_id=user_id,
        source=answer.source,
        model_version=answer.view.meta.model_version,
        generated_at=answer.view.meta.published_at,
        genres={genre: list(films) for genre, films in answer.genres.items()},
    )


@router.get("//recommendations", include_in_schema=False)
@router.get("//recommendations/genres", include_in_schema=False)
async def empty_user_id() -> None:
    """An empty path segment would otherwise be a bare 404: say what is wrong instead."""
    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="user id must not be empty")
