"""Settings base: every process has one pydantic-settings class deriving from this one.

Nothing else reads ``os.environ``. Variables are prefixed ``RECSYS_`` (e.g. ``RECSYS_REDIS_URL``).
An unset server URL selects the embedded (SQLite) adapter.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys_common.observability import LogFormat

ENV_PREFIX = "RECSYS_"


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
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

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


def env_names(settings_class: type[BaseSettings], *, nested_objects: bool = False) -> frozenset[str]:
    """The environment variables ``settings_class`` reads, upper case: ``<env_prefix><FIELD>`` for each
    field, and ``<env_prefix><FIELD><env_nested_delimiter><SUB>`` for each field of a nested model
    (with ``nested_objects``, also the nested model's own name, which takes it whole as JSON)."""
    config = settings_class.model_config
    prefix = config.get("env_prefix") or ""
    delimiter = config.get("env_nested_delimiter")
    names: set[str] = set()
    for name, field in settings_class.model_fields.items():
        nested = field.annotation
        if delimiter and isinstance(nested, type) and issubclass(nested, BaseModel):
            names.update(f"{prefix}{name}{delimiter}{sub}" for sub in nested.model_fields)
            if not nested_objects:
                continue
        names.add(f"{prefix}{name}")
    return frozenset(name.upper() for name in names)
