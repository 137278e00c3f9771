"""``python -m recommendations_api``: serve the API with uvicorn (host, port, workers, limits from settings)."""

from __future__ import annotations

import os

import uvicorn

from recommendations_api.settings import ApiSettings
from recsys_common.serving import uvicorn_options

#: prometheus-client's own switch for multiprocess mode; it reads it itself in every worker.
PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_ENV = "RECSYS_METRICS_MULTIPROC_DIR"
APP_FACTORY = "recommendations_api.bootstrap:create_served_app"


def prepare_metrics_dir(settings: ApiSettings) -> ApiSettings:
    """With several workers, give them one metrics directory (emptied of a previous run's files)
    and pass it on through the environment the workers inherit."""
    if settings.api_workers == 1 and settings.metrics_multiproc_dir is None:
        return settings
    directory = settings.metrics_multiproc_dir or settings.data_dir / "metrics"
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[PROMETHEUS_MULTIPROC_ENV] = str(directory)
    os.environ[METRICS_DIR_ENV] = str(directory)
    return settings.model_copy(update={"metrics_multiproc_dir": directory})


def serve(app_factory: str = APP_FACTORY) -> None:
    """Serve ``app_factory`` (an import string) with uvicorn as the settings configure it: host, port,
    workers, and the cap on request heads. The load benchmark serves its reference app through here,
    so both run under the same server."""
    settings = prepare_metrics_dir(ApiSettings())
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.api_workers,
        log_level=settings.api_log_level,
        access_log=False,
        log_config=None,  # each worker's logging is the app factory's (configure_logging)
        **uvicorn_options(settings.api_max_header_bytes),
    )


def main() -> None:
    serve()


if __name__ == "__main__":
    main()
