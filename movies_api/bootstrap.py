"""Composition root: the one place that chooses the catalogue and publisher adapters and wires the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from movies_api.auth import TokenPolicy
from movies_api.breaker import CircuitBreaker
from movies_api.metrics import Metrics, metrics_middleware
from movies_api.recommendations import FALLBACK_DEPTH, ImdbTopCache, PersonalFilms, RecommendationsClient
from movies_api.routers import films, genres, health, home, persons, ratings, similar, users
from movies_api.schemas import RatingIn
from movies_api.settings import MoviesApiSettings
from movies_api.similar import GenreNeighbours, SimilarFilmsService
from recsys_common.adapters.catalogs import open_catalog
from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.adapters.embedded_publisher import EmbeddedRatingPublisher
from recsys_common.adapters.kafka_publisher import KafkaRatingPublisher
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.observability import RequestIdMiddleware
from recsys_common.ports.catalog import CatalogUnavailable, CatalogView
from recsys_common.ports.publisher import RatingPublisher
from recsys_common.ports.ratings import RatingSource, RatingSourceError, RatingStore
from recsys_common.tokens import DEV_JWT_SECRET
from recsys_common.web import install_problem_handlers, install_request_limits, operation_id, problem

log = logging.getLogger(__name__)

DESCRIPTION = """
The film catalogue (Elasticsearch, or an embedded SQLite FTS5 file): search, film cards, genres.

Viewers identify with an HS256 bearer token whose `sub` is their user id. A rating is published as
an event (Kafka, or the embedded rating store) and answered `202` only once the publisher has
acknowledged it; the recommender engine takes it into its next cycle. Recommendations come from
the Recommendations API as film ids and are returned as full film cards; when that API is slow or
down, the answer is the catalogue's IMDb-top with `source: fallback` (at once, without calling it,
while its circuit breaker is open).

Errors are RFC 9457 problem documents (`application/problem+json`: `type`, `title`, `status`,
`detail`, and `errors` for invalid requests: where and why, never the value sent).
"""

TAGS = [
    {"name": "films", "description": "Search the catalogue, one film card by id"},
    {"name": "ratings", "description": "Viewers rate films (bearer token); the engine learns from them"},
    {"name": "genres", "description": "Genres with their ids and film counts"},
    {"name": "persons", "description": "People credited on the catalogue's films"},
    {"name": "recommendations", "description": "Recommendations as film cards, with the IMDb-top as fallback"},
    {"name": "health", "description": "Liveness and readiness"},
]


class ConfigurationError(RuntimeError):
    """The settings cannot run the API (e.g. production adapters without a JWT secret)."""


def build_rating_store(settings: MoviesApiSettings) -> RatingStore:
    """Where viewers' ratings are read (the films to leave out of their answers): ClickHouse when
    ``RECSYS_CLICKHOUSE_URL`` is set, else the embedded rating store."""
    if settings.clickhouse_url:
        return ClickHouseRatingStore(settings.clickhouse_url, cluster=settings.clickhouse_cluster)
    return SqliteRatingStore(settings.ratings_db)


def build_publisher(settings: MoviesApiSettings) -> RatingPublisher:
    """Kafka when ``RECSYS_KAFKA_BOOTSTRAP`` is set, else straight into the embedded rating store."""
    if settings.kafka_bootstrap:
        return KafkaRatingPublisher(settings.kafka_bootstrap)
    return EmbeddedRatingPublisher(SqliteRatingStore(settings.ratings_db))


def token_policy_of(settings: MoviesApiSettings) -> TokenPolicy:
    return TokenPolicy(
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        max_lifetime_s=settings.jwt_max_lifetime_s,
        leeway_s=settings.jwt_leeway_s,
    )


def jwt_secret_of(settings: MoviesApiSettings) -> str:
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    if not settings.embedded:
        raise ConfigurationError("RECSYS_JWT_SECRET must be set when Elasticsearch or Kafka is configured")
    log.warning(
        "RECSYS_JWT_SECRET is not set: accepting tokens signed with the public development secret %r "
        "(python -m movies_api token USER makes one); set a secret for anything but a local trial",
        DEV_JWT_SECRET,
    )
    return DEV_JWT_SECRET


def create_app(
    settings: MoviesApiSettings | None = None,
    *,
    catalog: CatalogView | None = None,
    publisher: RatingPublisher | None = None,
    rating_reader: RatingSource | None = None,
) -> FastAPI:
    """Build the app from the settings; ``catalog`` and ``publisher`` replace the adapters the settings
    choose (tests, the end-to-end run). Nothing connects here: adapters connect on first use."""
    settings = settings if settings is not None else MoviesApiSettings()
    jwt_secret = jwt_secret_of(settings)
    catalog = catalog if catalog is not None else open_catalog(settings)
    rating_reader = rating_reader if rating_reader is not None else build_rating_store(settings)
    publisher = publisher if publisher is not None else build_publisher(settings)
    metrics = Metrics()
    client = RecommendationsClient(settings.recommendations_api_url, settings.recommendations_timeout_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()
            publisher.close()
            catalog.close()

    app = FastAPI(
        title="Movies API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.jwt_secret = jwt_secret
    app.state.token_policy = token_policy_of(settings)
    app.state.catalog = catalog
    app.state.publisher = publisher
    app.state.metrics = metrics
    app.state.rating_reader = rating_reader
    imdb_top = ImdbTopCache(catalog, FALLBACK_DEPTH, settings.imdb_top_ttl_s)
    breaker = CircuitBreaker(
        settings.recommendations_circuit_failures,
        settings.recommendations_circuit_cool_down_s,
        on_change=metrics.circuit_changed,
    )
    app.state.recommendations = PersonalFilms(
        client,
        catalog,
        imdb_top,
        breaker,
        rating_reader,
        on_answer=lambda source, reason: metrics.recommendations.labels(source, reason).inc(),
    )
    app.state.similar = SimilarFilmsService(
        client,
        catalog,
        GenreNeighbours(catalog, settings.imdb_top_ttl_s),
        breaker,
        on_answer=lambda source, reason: metrics.similar.labels(source, reason).inc(),
    )
    install_problem_handlers(app, documented_models=[RatingIn])
    install_request_limits(app, settings.movies_api_max_body_bytes, settings.movies_api_max_header_bytes)
    app.middleware("http")(metrics_middleware(metrics))  # outside the limits, so it counts refusals too
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer carries X-Request-ID, logs the id

    @app.exception_handler(CatalogUnavailable)
    async def catalog_unavailable(request: Request, exc: CatalogUnavailable) -> JSONResponse:
        log.error("catalogue unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the catalogue is unavailable, retry later",
            headers={"Retry-After": str(settings.retry_after_s)},
        )

    @app.exception_handler(RatingSourceError)
    async def ratings_unavailable(request: Request, exc: RatingSourceError) -> JSONResponse:
        log.error("ratings unavailable on %s %s: %s", request.method, request.url.path, exc)
        return problem(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the ratings are unavailable, retry later",
            headers={"Retry-After": str(settings.retry_after_s)},
        )

    for router in (
        films.router,
        similar.router,
        ratings.router,
        genres.router,
        persons.router,
        users.router,
        home.router,
        health.router,
    ):
        app.include_router(router)
    return app
