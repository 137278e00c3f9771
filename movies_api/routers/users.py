"""A user's recommendations as full film cards, in the order the Recommendations API ranked them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, HTTPException, Path, Query, status
from starlette.concurrency import run_in_threadpool

from movies_api.deps import CatalogDep, OperatorDep, RatingReaderDep, RecommendationsDep, ViewerDep
from movies_api.recommendations import HomePage, Reason
from movies_api.routers.films import DEFAULT_PAGE_SIZE, ERRORS_503, MAX_GENRE_LENGTH, MAX_PAGE_NUMBER
from movies_api.schemas import (
    FilmCard,
    HomeOut,
    HomeRow,
    MyRating,
    MyRatingsPage,
    RatedReason,
    RecommendationsOut,
    RecommendedCard,
    TopInGenreReason,
    TopRatedReason,
)
from recsys_common.columns import Columns
from recsys_common.domain import Film, Source
from recsys_common.ids import USER_ID_MAX_LEN, validate_user_id
from recsys_common.ports.catalog import MAX_PAGE_SIZE, CatalogReader
from recsys_common.web import USER_ID_SCHEMA, Problem, invalid

router = APIRouter(prefix="/api/v1/users", tags=["recommendations"])

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

GenreQuery = Annotated[
    str | None,
    Query(max_length=MAX_GENRE_LENGTH, description="Only this genre (any case); default: the must-watch list"),
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many films")]
DEFAULT_HOME_ROWS = 3
MAX_HOME_ROWS = 10
DEFAULT_ROW_LIMIT = 12
RowsQuery = Annotated[int, Query(ge=0, le=MAX_HOME_ROWS, description="How many genre rows")]
RowLimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Films per row")]
PageNumberQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER, description="1-based page")]
PageSizeQuery = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Ratings per page")]
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


def _reason_out(reason: Reason | None) -> RatedReason | TopInGenreReason | TopRatedReason | None:
    if reason is None:
        return None
    if reason.kind == "rated" and reason.film is not None and reason.score is not None:
        return RatedReason(film_id=reason.film.film_id, title=reason.film.title, score=reason.score)
    if reason.kind == "top_in_genre" and reason.genre is not None:
        return TopInGenreReason(genre=reason.genre)
    return TopRatedReason()


def _cards(films: list[Film], reasons: dict[str, Reason]) -> list[RecommendedCard]:
    return [RecommendedCard(**FilmCard.of(f).model_dump(), reason=_reason_out(reasons.get(f.film_id))) for f in films]


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
        films=_cards(answer.films, answer.reasons),
    )


def home_out(page: HomePage) -> HomeOut:
    """The home page's body: the first row is the must-watch (or, from IMDb-top, top-rated) one."""
    personal = page.source in (Source.PERSONAL, Source.OVERLAY)
    rows = [
        HomeRow(
            kind="must_watch" if row.genre is None else "genre",
            genre=row.genre,
            title=row.genre if row.genre is not None else ("Must watch" if personal else "Top rated"),
            films=_cards(row.films, row.reasons),
        )
        for row in page.rows
    ]
    return HomeOut(source=page.source, model_version=page.model_version, generated_at=page.generated_at, rows=rows)


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
    "/me/home",
    response_model=HomeOut,
    responses={401: ERRORS[401], **ERRORS_503},
    summary="The viewer's home page: must-watch and favourite-genre rows (bearer token)",
)
async def get_my_home(
    viewer: ViewerDep,
    service: RecommendationsDep,
    rows: RowsQuery = DEFAULT_HOME_ROWS,
    limit: RowLimitQuery = DEFAULT_ROW_LIMIT,
) -> HomeOut:
    """Must watch (each film with the rated film behind it: "because you rated Heat 9/10") and one
    row per favourite genre (the genres of the films the viewer rated highest), from one request to
    the Recommendations API; rated films are left out. IMDb-top rows (`fallback`) when that API is
    slow or down."""
    return home_out(await service.home(viewer.user_id, rows, limit))


@router.get(
    "/me/ratings",
    response_model=MyRatingsPage,
    responses={
        401: ERRORS[401],
        503: {"model": Problem, "description": "The ratings or the catalogue are unreachable"},
    },
    summary="What the viewer rated, newest first (bearer token)",
)
def get_my_ratings(
    viewer: ViewerDep,
    catalog: CatalogDep,
    ratings: RatingReaderDep,
    page_number: PageNumberQuery = 1,
    page_size: PageSizeQuery = DEFAULT_PAGE_SIZE,
) -> MyRatingsPage:
    frame = ratings.read_user(viewer.user_id)  # RatingSourceError: 503 (the app's handler)
    newest = frame.sort_values([Columns.Timestamp, Columns.Item], ascending=[False, True], kind="stable")
    page = newest.iloc[(page_number - 1) * page_size : page_number * page_size]
    films = {f.film_id: f for f in catalog.get_many(page[Columns.Item].astype(str).tolist())}
    return MyRatingsPage(
        total=len(newest),
        page_number=page_number,
        page_size=page_size,
        ratings=[
            MyRating(film=FilmCard.of(films[film]), score=float(score), rated_at=_iso(int(at)))
            for film, score, at in page[[Columns.Item, Columns.Rating, Columns.Timestamp]].itertuples(index=False)
            if film in films
        ],
    )


def _iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
