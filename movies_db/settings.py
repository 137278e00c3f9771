"""Settings of the movies_db tools (export, ETL): environment variables prefixed ``RECSYS_``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from recsys_common.settings import CommonSettings


class MoviesDbSettings(CommonSettings):
    #: Films per ETL batch (one catalogue upsert, one saved state).
    etl_batch_size: int = Field(default=500, ge=1)
    #: Seconds between ETL runs with ``--every`` unset on the command line; 0 runs once.
    etl_interval_s: float = Field(default=0.0, ge=0.0)
    #: Where the Elasticsearch catalogue's ETL state is saved (the SQLite catalogue keeps it inside).
    etl_state_file: Path | None = None

    @property
    def etl_state_path(self) -> Path:
        return self.etl_state_file or self.data_dir / "etl_state.json"

    @property
    def seed_dir(self) -> Path:
        return self.data_dir / "seed"
