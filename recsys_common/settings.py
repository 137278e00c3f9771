"""Settings base: every process has one pydantic-settings class deriving from this one.

Nothing else reads ``os.environ``. Variables are prefixed ``RECSYS_`` (e.g. ``RECSYS_REDIS_URL``).
An unset server URL selects the embedded (SQLite) adapter. ``warn_unknown_variables``, called once by
every process at start-up, names each ``RECSYS_*`` variable that no process reads (a misspelling
would otherwise be ignored silently).
"""

from __future__ import annotations

import difflib
import logging
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys_common.known_settings import KNOWN_VARIABLES
from recsys_common.observability import LogFormat

ENV_PREFIX = "RECSYS_"
#: How alike a known name must be to an unknown one to be offered as the hint (difflib's ratio).
HINT_CUTOFF = 0.6

log = logging.getLogger(__name__)


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
    #: A cluster of the ClickHouse servers' ``remote_servers``: ratings sharded by user over it
    #: (``clickhouse/ratings_sharded.sql``); unset: the single-node tables.
    clickhouse_cluster: str | None = None
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


def unknown_variables(
    environ: Mapping[str, str] | None = None, known: Collection[str] = KNOWN_VARIABLES
) -> dict[str, str | None]:
    """Each ``RECSYS_*`` variable of ``environ`` (default: the process's) that no name of ``known``
    matches (case-insensitively, as pydantic-settings reads them), with the closest known name."""
    environ = os.environ if environ is None else environ
    # Compared without the prefix, which every name shares: it would make any two names look alike.
    known_rest = sorted({name.upper().removeprefix(ENV_PREFIX) for name in known})
    found: dict[str, str | None] = {}
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and upper.removeprefix(ENV_PREFIX) not in known_rest:
            close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), known_rest, n=1, cutoff=HINT_CUTOFF)
            found[name] = ENV_PREFIX + close[0] if close else None
    return found


def warn_unknown_variables(environ: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Log one warning per ``RECSYS_*`` variable no process of the platform reads (processes share an
    environment in compose, so a variable another process reads is not warned about); return them."""
    found = unknown_variables(environ)
    for name, close in found.items():
        hint = f"; did you mean {close}?" if close else ""
        log.warning("unknown setting %s is ignored (no process reads it)%s", name, hint)
    return found
