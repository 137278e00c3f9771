"""Dependencies of the routers: the adapters the composition root put on ``app.state``, and the viewer."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from movies_api.auth import InvalidToken, TokenPolicy, Viewer, decode_token
from movies_api.metrics import Metrics
from movies_api.recommendations import PersonalFilms
from movies_api.settings import MoviesApiSettings
from movies_api.similar import SimilarFilmsService
from recsys_common.ports.catalog import CatalogView
from recsys_common.ports.publisher import RatingPublisher
from recsys_common.ports.ratings import RatingSource

_bearer = HTTPBearer(auto_error=False, description="HS256 JWT; `sub` is the viewer's user id")


def get_settings(request: Request) -> MoviesApiSettings:
    settings: MoviesApiSettings = request.app.state.settings
    return settings


def get_catalog(request: Request) -> CatalogView:
    catalog: CatalogView = request.app.state.catalog
    return catalog


def get_publisher(request: Request) -> RatingPublisher:
    publisher: RatingPublisher = request.app.state.publisher
    return publisher


def get_rating_reader(request: Request) -> RatingSource:
    reader: RatingSource = request.app.state.rating_reader
    return reader


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_recommendations(request: Request) -> PersonalFilms:
    service: PersonalFilms = request.app.state.recommendations
    return service


def get_similar(request: Request) -> SimilarFilmsService:
    service: SimilarFilmsService = request.app.state.similar
    return service


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": "Bearer"})


def get_viewer(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Viewer:
    """The viewer of a valid bearer token; 401 saying why otherwise."""
    if credentials is None:
        raise _unauthorized("missing bearer token")
    policy: TokenPolicy = request.app.state.token_policy
    try:
        return decode_token(credentials.credentials, request.app.state.jwt_secret, policy)
    except InvalidToken as exc:
        raise _unauthorized(str(exc)) from exc


def get_operator(viewer: Annotated[Viewer, Depends(get_viewer)]) -> Viewer:
    if not viewer.is_operator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this route needs a token with the operator role")
    return viewer


SettingsDep = Annotated[MoviesApiSettings, Depends(get_settings)]
CatalogDep = Annotated[CatalogView, Depends(get_catalog)]
PublisherDep = Annotated[RatingPublisher, Depends(get_publisher)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
RatingReaderDep = Annotated[RatingSource, Depends(get_rating_reader)]
RecommendationsDep = Annotated[PersonalFilms, Depends(get_recommendations)]
SimilarDep = Annotated[SimilarFilmsService, Depends(get_similar)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
OperatorDep = Annotated[Viewer, Depends(get_operator)]
