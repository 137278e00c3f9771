"""A user's recommendations: must-watch (or one genre) and all genre lists.

``GET /api/v1/users/{user_id}/recommendations`` is what the Movies API calls for every page, so it
is written to be cheap within FastAPI: a ``PlainRoute`` (documented by FastAPI, served as a plain
Starlette route), the service from ``app.state``, its parameters read by the route itself
(``deps.QueryParameter``: pydantic validation and the OpenAPI schema from one type), the answer
serialised once by pydantic's serializer into the response bytes (``response_model`` is only
documentation), and one store read (one Redis HMGET) as its only I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.routing import APIRoute
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from recommendations_api.deps import (
    DEFAULT_LIMIT,
    GENRE,
    LIMIT,
    REASONS,
    USER_ID_PARAMETER,
    HomeGenresQuery,
    LimitQuery,
    ServiceDep,
    UserIdPath,
    checked_user_id,
    home_genres,
)
from recommendations_api.schemas import GenreRecommendations, Home, Recommendations
from recommendations_api.service import RecommendationService
from recsys_common.web import JSON_MEDIA_TYPE, VALIDATION_DESCRIPTION, Problem, ValidationProblem

router = APIRouter(prefix="/api/v1/users", tags=["recommendations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "Unknown genre: the message lists the allowed genres"},
    503: {"model": Problem, "description": "The store is unreachable and no snapshot was read since start"},
}
_RECOMMENDATIONS_JSON = Recommendations.__pydantic_serializer__
#: An answer without reasons (not asked for) leaves the field out: the hot route's bytes stay as before.
_NO_REASONS = {"reasons"}


class PlainRoute(APIRoute):
    """A route FastAPI documents like any other (response model, responses, ``openapi_extra``) but
    serves as a plain Starlette route: the endpoint takes the ``Request`` and returns the ``Response``
    itself, so none of FastAPI's per-request work (dependency solving, validation, serialisation,
    exit stacks) runs. Exceptions reach the app's handlers as from any route."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.app = request_response(endpoint)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's handling (method check, then ``self.app``), also when the route is reached
        # through ``include_router``, where FastAPI would otherwise build its own handler.
        await Route.handle(self, scope, receive, send)


async def get_user_recommendations(request: Request) -> Response:
    """The user's personal list when they have one (``source: personal``), otherwise the IMDb-top
    cold-start list (``cold_start``); while the store is unreachable, the cold-start list of the
    last version read (``fallback``)."""
    service: RecommendationService = request.app.state.service
    user_id = checked_user_id(request.path_params["user_id"])
    answer = service.recommendations(user_id, GENRE.parse(request), LIMIT.parse(request), REASONS.parse(request))
    body = Recommendations.model_construct(
        user_id=user_id,
        genre=answer.genre,
        source=answer.source,
        model_version=answer.model_version,
        generated_at=answer.generated_at,
        film_ids=list(answer.film_ids),
        reasons=answer.reasons,
    )
    exclude = _NO_REASONS if answer.reasons is None else None
    return Response(_RECOMMENDATIONS_JSON.to_json(body, exclude=exclude), media_type=JSON_MEDIA_TYPE)


router.add_api_route(
    "/{user_id}/recommendations",
    get_user_recommendations,
    methods=["GET"],
    route_class_override=PlainRoute,
    response_model=Recommendations,
    responses={**ERRORS, 422: {"model": ValidationProblem, "description": VALIDATION_DESCRIPTION}},
    summary="A user's must-watch list, or their list of one genre",
    openapi_extra={"parameters": [USER_ID_PARAMETER, LIMIT.openapi(), GENRE.openapi(), REASONS.openapi()]},
)


@router.get(
    "/{user_id}/home",
    response_model=Home,
    responses={503: ERRORS[503]},
    summary="Everything a home page shows: must-watch with reasons and the lists of some genres, in one read",
)
async def get_user_home(
    user_id: UserIdPath, service: ServiceDep, genres: HomeGenresQuery = None, limit: LimitQuery = DEFAULT_LIMIT
) -> Home:
    """The user's must-watch list with its reasons and their lists of ``genres``, from one read of
    their record; the cold-start lists when they have none (``cold_start``), those of the last
    version read while the store is unreachable (``fallback``)."""
    answer = service.home(checked_user_id(user_id), home_genres(genres), limit)
    return Home(
        user_id=user_id,
        source=answer.source,
        model_version=answer.view.meta.model_version,
        generated_at=answer.view.meta.published_at,
        must_watch=list(answer.must_watch),
        reasons=answer.reasons,
        genres={genre: list(films) for genre, films in answer.genres.items()},
    )


@router.get(
    "/{user_id}/recommendations/genres",
    response_model=GenreRecommendations,
    responses=ERRORS,
    summary="All of a user's per-genre lists",
)
async def get_user_genre_recommendations(user_id: UserIdPath, service: ServiceDep) -> GenreRecommendations:
    answer = service.genre_lists(checked_user_id(user_id))
    return GenreRecommendations(
        user_id=user_id,
        source=answer.source,
        model_version=answer.view.meta.model_version,
        generated_at=answer.view.meta.published_at,
        genres={genre: list(films) for genre, films in answer.genres.items()},
    )


@router.get("/{user_id:path}/recommendations", include_in_schema=False, response_model=None)
@router.get("/{user_id:path}/recommendations/genres", include_in_schema=False, response_model=None)
@router.get("/{user_id:path}/home", include_in_schema=False, response_model=None)
async def refuse_user_id(user_id: str) -> NoReturn:
    """An empty id, or one holding '/' (sent as %2F, which is decoded before routing), reaches no
    route above: say what is wrong instead of a bare 404."""
    checked_user_id(user_id)
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such route")  # unreachable: the id is invalid
