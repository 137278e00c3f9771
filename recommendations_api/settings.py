"""Settings of the Recommendations API process (environment variables ``RECSYS_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from recsys_common.settings import CommonSettings

DEFAULT_PORT = 8001


class ApiSettings(CommonSettings):
    """One class per process: ``RECSYS_REDIS_URL`` set selects Redis, unset the SQLite file."""

    #: Interface and port uvicorn listens on (``RECSYS_API_HOST``, ``RECSYS_API_PORT``).
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=DEFAULT_PORT, ge=1, le=65_535)
    #: uvicorn worker processes; above 1, metrics are aggregated across workers (see ``__main__``).
    api_workers: int = Field(default=1, ge=1)
    api_log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    #: Answer well-formed requests of the hot route without FastAPI's per-request machinery (fastpath.py).
    api_fast_path: bool = True

    #: How often the serving version is re-resolved in the store; a new version is served after at most this long.
    current_refresh_ms: int = Field(default=500, ge=0)
    #: After the store failed, requests answer from the in-process snapshot for this long before trying it again.
    store_retry_ms: int = Field(default=1_000, ge=0)
    #: Redis socket timeouts: short, so an unreachable Redis turns into a fallback answer quickly. Store reads
    #: run on the event loop; with one retry, a Redis that drops packets blocks it for at most 2 x this
    #: once per ``store_retry_ms``.
    redis_socket_timeout_ms: int = Field(default=100, ge=1)
    redis_connect_timeout_ms: int = Field(default=100, ge=1)

    #: Directory shared by the workers for Prometheus metrics (multiprocess mode); None: per process.
    metrics_multiproc_dir: Path | None = None
