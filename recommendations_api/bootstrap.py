"""Composition root: the one place that chooses the RecStore adapter and wires the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from recommendations_api.metrics import Metrics, MetricsMiddleware
from recommendations_api.readiness import ReadinessCache
from recommendations_api.routers import cold_start, health, legacy, recommendations, similar
from recommendations_api.service import RecommendationService, ServiceUnavailable, UnknownGenre
from recommendations_api.settings import ApiSettings
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.observability import RequestIdMiddleware, configure_logging
from recsys_common.ports.recstore import RecStore
from recsys_common.settings import warn_unknown_variables
from recsys_common.web import install_problem_handlers, install_request_limits, operation_id, problem

log = logging.getLogger(__name__)

MS_PER_S = 1000
#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 1

DESCRIPTION = """
Reads the lists the recommender engine publishes (RecStore: Redis or an embedded SQLite file).

Every answer says where it came from: `personal` (the user's own list), `cold_start` (IMDb-top, for
users without a list) or `fallback` (the store is unreachable: the cold-start lists of the last
version read). A newly published version is served within `RECSYS_CURRENT_REFRESH_MS`, never half
of one.

Errors are RFC 9457 problem documents (`application/problem+json`: `type`, `title`, `status`,
`detail`, and `errors` for invalid requests) except on the legacy route `/v1/user/{user_id}`, which
keeps its own shape.
"""

TAGS = [
    {"name": "recommendations", "description": "A user's lists: personal, else cold start, else fallback"},
    {"name": "cold start", "description": "IMDb-top lists for anonymous and new users"},
    {"name": "similar films", "description": "A film's most similar films, published with each version"},
    {"name": "legacy", "description": "The original system's route and response shape"},
    {"name": "operations", "description": "Liveness, readiness and Prometheus metrics"},
]


def build_store(settings: ApiSettings) -> RecStore:
    """Redis when ``RECSYS_REDIS_URL`` is set, else the SQLite file under the data directory."""
    if settings.redis_url:
        return RedisRecStore(
            settings.redis_url,
            prefix=settings.redis_prefix,
            socket_timeout_s=settings.redis_socket_timeout_ms / MS_PER_S,
            connect_timeout_s=settings.redis_connect_timeout_ms / MS_PER_S,
        )
    return SqliteRecStore(settings.recstore_db)


def create_served_app() -> FastAPI:
    """The app as ``python -m recommendations_api`` serves it: each worker process logs in the
    configured format (JSON lines by default when not on a terminal), then builds the app."""
    settings = ApiSettings()
    configure_logging(settings.api_log_level.upper(), settings.log_format)
    warn_unknown_variables()
    return create_app(settings)


def create_app(settings: ApiSettings | None = None, store: RecStore | None = None) -> FastAPI:
    """Build the app. Nothing connects here: the store is first used when the app starts."""
    settings = settings if settings is not None else ApiSettings()
    store = store if store is not None else build_store(settings)
    metrics = Metrics(settings.metrics_multiproc_dir)
    service = RecommendationService(
        store,
        refresh_s=settings.current_refresh_ms / MS_PER_S,
        retry_s=settings.store_retry_ms / MS_PER_S,
        on_new_version=metrics.set_model_version,
        on_answer=lambda source: metrics.answered(source.value),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.warm_up()
        yield
        store.close()
        metrics.close()

    app = FastAPI(
        title="Recommendations API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=TAGS,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.readiness = ReadinessCache(service, ttl_s=settings.readiness_ttl_ms / MS_PER_S)
    app.state.metrics = metrics
    app.include_router(recommendations.router)
    app.include_router(cold_start.router)
    app.include_router(similar.router)
    app.include_router(legacy.router)
    app.include_router(health.router)
    install_problem_handlers(app)
    app.add_exception_handler(UnknownGenre, _unknown_genre)
    app.add_exception_handler(ServiceUnavailable, _unavailable)
    install_request_limits(app, settings.api_max_body_bytes, settings.api_max_header_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)  # outside the limits, so it times refusals too
    app.add_middleware(RequestIdMiddleware)  # outermost: every answer carries X-Request-ID, logs the id
    log.info("recommendations API over %r", store)
    return app


async def _unknown_genre(_: Request, exc: Exception) -> JSONResponse:
    return problem(status.HTTP_404_NOT_FOUND, str(exc))


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    return problem(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)})
