"""Settings of the Recommendations API process (environment variables ``RECSYS_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from recsys_common.settings import CommonSettings
from recsys_common.web import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES

DEFAULT_PORT = 8001


class ApiSettings(CommonSettings):
    """One class per process: ``RECSYS_REDIS_URL`` set selects Redis, unset the SQLite file."""

    #: Interface and port uvicorn listens on (``RECSYS_API_HOST``, ``RECSYS_API_PORT``).
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=DEFAULT_PORT, ge=1, le=65_535)
    #: uvicorn worker processes; above 1, metrics are aggregated across workers (see ``__main__``).
    api_workers: int = Field(default=1, ge=1)
    api_log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    #: Larger request bodies are refused with 413 (no route takes a body), larger headers with 431; the
    #: server itself closes connections whose request head exceeds the header limit plus a margin.
    api_max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=0)
    api_max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, ge=1)

    #: How often the serving version is re-resolved in the store; a new version is served after at most this long.
    current_refresh_ms: int = Field(default=500, ge=0)
    #: After the store failed, requests answer from the in-process snapshot for this long before trying it again.
    store_retry_ms: int = Field(default=1_000, ge=0)
    #: Redis socket timeouts: short, so an unreachable Redis turns into a fallback answer quickly. Store reads
    #: run on the event loop; with one retry, a Redis that drops packets blocks it for at most 2 x this
    #: once per ``store_retry_ms``.
    redis_socket_timeout_ms: int = Field(default=100, ge=1)
    redis_connect_timeout_ms: int = Field(default=100, ge=1)
    #: ``/health/ready`` asks the store at most this often, in a worker thread (never on the event loop);
    #: while the store breaker is open (see ``store_retry_ms``) it answers "unready" without asking.
    readiness_ttl_ms: int = Field(default=1_000, ge=0)

    #: Directory shared by the workers for Prometheus metrics (multiprocess mode); None: per process.
    metrics_multiproc_dir: Path | None = None
