"""Request dependencies: the service, the readiness cache and validated parameters.

They are ``async`` on purpose: FastAPI runs plain functions in a thread pool, which would cost more
than the work they do. The hot route takes the service from ``request.app.state`` itself: a
dependency costs ~10 us per request there.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError

from recommendations_api.metrics import Metrics
from recommendations_api.readiness import ReadinessCache
from recommendations_api.service import RecommendationService
from recsys_common.ids import USER_ID_MAX_LEN, validate_user_id
from recsys_common.web import USER_ID_SCHEMA, invalid

DEFAULT_LIMIT = 20
MAX_LIMIT = 500
GENRE_MAX_LEN = 64
USER_ID_LOC = ("path", "user_id")
LIMIT_DESCRIPTION = f"How many film ids, 1..{MAX_LIMIT}"
GENRE_DESCRIPTION = "A published genre (case-insensitive); unknown genres get 404 listing the allowed ones"
USER_ID_DESCRIPTION = f"Opaque user id: 1..{USER_ID_MAX_LEN} characters, no control characters, no '/'"

_T = TypeVar("_T")


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
UserIdPath = Annotated[str, Path(description=USER_ID_DESCRIPTION, examples=["42"], json_schema_extra=USER_ID_SCHEMA)]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=LIMIT_DESCRIPTION, examples=[DEFAULT_LIMIT])]
GenreQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=GENRE_MAX_LEN, description=GENRE_DESCRIPTION, examples=["Drama"]),
]


class QueryParameter(Generic[_T]):
    """A query parameter that a route reads itself (``parse``) and documents with ``openapi_extra``
    (``openapi``), both from one pydantic type: the same 422 messages and the same schema as FastAPI's
    own ``Query``, without FastAPI's per-request parameter solving (a fifth of the hot route's CPU)."""

    def __init__(self, name: str, annotation: Any, default: _T, description: str, example: Any) -> None:
        self.name = name
        self.default = default
        self._adapter: TypeAdapter[_T] = TypeAdapter(annotation)
        self._doc = {
            "name": name,
            "in": "query",
            "required": False,
            "description": description,
            "schema": {**self._adapter.json_schema(), "default": default, "examples": [example]},
        }

    def parse(self, request: Request) -> _T:
        """The parameter's last value in the query string, validated; its default when absent."""
        raw = request.query_params.get(self.name)
        if raw is None:
            return self.default
        try:
            return self._adapter.validate_python(raw)
        except ValidationError as exc:
            errors = [{**error, "loc": ("query", self.name)} for error in exc.errors(include_url=False)]
            raise RequestValidationError(errors) from None

    def openapi(self) -> dict[str, Any]:
        return self._doc


LIMIT = QueryParameter[int](
    "limit", Annotated[int, Field(ge=1, le=MAX_LIMIT)], DEFAULT_LIMIT, LIMIT_DESCRIPTION, DEFAULT_LIMIT
)
GENRE = QueryParameter[str | None](
    "genre", Annotated[str, Field(min_length=1, max_length=GENRE_MAX_LEN)], None, GENRE_DESCRIPTION, "Drama"
)
REASONS = QueryParameter[bool](
    "reasons",
    bool,
    False,
    "Also return, for each must-watch film of the user's own lists, the rated film behind it (costs a "
    "decode of the whole record; ignored with genre)",
    True,
)
#: Genres of the home route: comma-separated names, at most this many.
MAX_HOME_GENRES = 32
HOME_GENRES_MAX_LEN = MAX_HOME_GENRES * (GENRE_MAX_LEN + 1)
HomeGenresQuery = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=HOME_GENRES_MAX_LEN,
        description=f"Comma-separated genres (case-insensitive, at most {MAX_HOME_GENRES}); those not published "
        "are left out; every published genre when absent",
        examples=["Crime,Drama"],
    ),
]
HOME_GENRES_LOC = ("query", "genres")


def home_genres(raw: str | None) -> list[str] | None:
    """The genre names of the home route's ``genres``, or a 422 saying what is wrong."""
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    if not names:
        raise invalid(HOME_GENRES_LOC, "genres must name at least one genre")
    if len(names) > MAX_HOME_GENRES or any(len(name) > GENRE_MAX_LEN for name in names):
        raise invalid(HOME_GENRES_LOC, f"at most {MAX_HOME_GENRES} genres of at most {GENRE_MAX_LEN} characters each")
    return names


#: The user id of a route that reads it itself (``request.path_params``, then ``checked_user_id``).
USER_ID_PARAMETER: dict[str, Any] = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "description": USER_ID_DESCRIPTION,
    "schema": {"type": "string", **USER_ID_SCHEMA, "examples": ["42"]},
}
