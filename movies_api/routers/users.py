"""A user's recommendations as full film cards, in the order the Recommendations API ranked them."""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, HTTPException, Path, Query, status
from starlette.concurrency import run_in_threadpool

from movies_api.deps import CatalogDep, OperatorDep, RecommendationsDep, ViewerDep
from movies_api.routers.films import ERRORS_503, MAX_GENRE_LENGTH
from movies_api.schemas import FilmCard, RecommendationsOut
from recsys_common.ids import USER_ID_MAX_LEN, validate_user_id
from recsys_common.ports.catalog import CatalogReader
from recsys_common.web import USER_ID_SCHEMA, Problem, invalid

router = APIRouter(prefix="/api/v1/users", tags=["recommendations"])

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

GenreQuery = Annotated[
    str | None,
    Query(max_length=MAX_GENRE_LENGTH, description="Only this genre (any case); default: the must-watch list"),
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many films")]
#: Documented with the alphabet's schema, checked by ``checked_user_id`` (its messages say what is wrong).
UserIdPath = Annotated[
    str,
    Path(
        description=f"The user's id: 1..{USER_ID_MAX_LEN} characters, no control characters, no '/'",
        examples=["42"],
        json_schema_extra=USER_ID_SCHEMA,
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Missing, expired or forged bearer token"},
    404: {"model": Problem, "description": "Unknown genre: the message lists the catalogue's genres"},
    **ERRORS_503,
}


def checked_user_id(user_id: str) -> str:
    """The user id unchanged, or a 422 saying what the alphabet allows."""
    try:
        return validate_user_id(user_id)
    except ValueError as exc:
        raise invalid(("path", "user_id"), str(exc)) from exc


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
async def get_my_recommendations(
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
async def get_user_recommendations(
    user_id: UserIdPath,
    operator: OperatorDep,
    catalog: CatalogDep,
    service: RecommendationsDep,
    genre: GenreQuery = None,
    limit: LimitQuery = DEFAULT_LIMIT,
) -> RecommendationsOut:
    return await _recommend(checked_user_id(user_id), genre, limit, catalog, service)


@router.get("/{user_id:path}/recommendations", include_in_schema=False, response_model=None)
async def refuse_user_id(user_id: str, operator: OperatorDep) -> NoReturn:
    """An empty id, or one holding '/' (sent as %2F, decoded before routing), reaches no route above:
    operators learn what is wrong instead of a bare 404."""
    checked_user_id(user_id)
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such route")  # unreachable: the id is invalid
