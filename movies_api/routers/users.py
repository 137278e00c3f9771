"""A user's recommendations as full film cards, in the order the Recommendations API ranked them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from starlette.concurrency import run_in_threadpool

from movies_api.deps import CatalogDep, OperatorDep, RecommendationsDep, ViewerDep
from movies_api.routers.films import ERRORS_503, MAX_GENRE_LENGTH
from movies_api.schemas import FilmCard, Problem, RecommendationsOut
from recsys_common.ids import USER_ID_MAX_LEN, validate_user_id
from recsys_common.ports.catalog import CatalogReader

router = APIRouter(prefix="/api/v1/users", tags=["recommendations"])

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

GenreQuery = Annotated[
    str | None,
    Query(max_length=MAX_GENRE_LENGTH, description="Only this genre (any case); default: the must-watch list"),
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many films")]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing, expired or forged bearer token"},
    404: {"model": Problem, "description": "Unknown genre: the message lists the catalogue's genres"},
    **ERRORS_503,
}


async def _canonical_genre(catalog: CatalogReader, genre: str | None) -> str | None:
    """The catalogue's spelling of ``genre``; 404 listing the genres when there is no such genre."""
    if genre is None:
        return None
    names = [g.name for g in await run_in_threadpool(catalog.genres)]
    for name in names:
        if name.casefold() == genre.casefold():
            return name
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown genre {genre!r}; genres: {', '.join(names)}")


async def _recommend(
    user_id: str, genre: str | None, limit: int, catalog: CatalogReader, service: RecommendationsDep
) -> RecommendationsOut:
    canonical = await _canonical_genre(catalog, genre)
    answer = await service.recommend(user_id, canonical, limit)
    return RecommendationsOut(
        user_id=user_id,
        genre=canonical,
        source=answer.source,
        model_version=answer.model_version,
        generated_at=answer.generated_at,
        films=[FilmCard.of(f) for f in answer.films],
    )


@router.get(
    "/me/recommendations",
    response_model=RecommendationsOut,
    responses=ERRORS,
    summary="The viewer's recommendations (bearer token)",
)
async def my_recommendations(
    viewer: ViewerDep,
    catalog: CatalogDep,
    service: RecommendationsDep,
    genre: GenreQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> RecommendationsOut:
    """Personal list when the engine has one, its IMDb-top for new viewers (`cold_start`), and the
    catalogue's IMDb-top when the Recommendations API is slow or down (`fallback`)."""
    return await _recommend(viewer.user_id, genre, limit, catalog, service)


@router.get(
    "/{user_id}/recommendations",
    response_model=RecommendationsOut,
    responses={**ERRORS, 403: {"model": Problem, "description": "The token lacks the operator role"}},
    summary="Any user's recommendations (operators: a token with the `operator` role)",
)
async def user_recommendations(
    user_id: Annotated[str, Path(max_length=USER_ID_MAX_LEN, description="The user's id", examples=["42"])],
    operator: OperatorDep,
    catalog: CatalogDep,
    service: RecommendationsDep,
    genre: GenreQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> RecommendationsOut:
    try:
        validate_user_id(user_id)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    return await _recommend(user_id, genre, limit, catalog, service)
