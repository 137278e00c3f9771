"""Settings base: every process has one pydantic-settings class deriving from this one.

Nothing else reads ``os.environ``. Variables are prefixed ``RECSYS_`` (e.g. ``RECSYS_REDIS_URL``).
An unset server URL selects the embedded (SQLite) adapter.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys_common.observability import LogFormat


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for logs and status output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RECSYS_", extra="forbid", frozen=True)

    #: Working directory of the embedded default: SQLite files, model artefacts, state.
    data_dir: Path = Path("var")
    #: Cache of downloaded seed sources (outside git).
    cache_dir: Path = Path("data/cache")

    #: Log lines as JSON (containers), text (a terminal), or ``auto``: text when stderr is a terminal.
    log_format: LogFormat = "auto"

    redis_url: str | None = None
    redis_prefix: str = "recsys"
    clickhouse_url: str | None = None
    kafka_bootstrap: str | None = None
    elasticsearch_url: str | None = None
    elasticsearch_index: str = "movies"
    elasticsearch_genres_index: str = "genres"
    elasticsearch_persons_index: str = "persons"
    elasticsearch_timeout_s: float = Field(default=5.0, gt=0.0)
    postgres_dsn: str | None = None

    @property
    def ratings_db(self) -> Path:
        return self.data_dir / "ratings.sqlite"

    @property
    def recstore_db(self) -> Path:
        return self.data_dir / "recstore.sqlite"

    @property
    def catalog_db(self) -> Path:
        return self.data_dir / "catalog.sqlite"
