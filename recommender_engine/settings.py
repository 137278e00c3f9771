"""The engine process's settings (the only place it reads the environment)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from recommender_engine.cycle import ListConfig
from recommender_engine.gate import GateConfig
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.settings import CommonSettings


class EngineSettings(CommonSettings):
    """``RECSYS_*`` variables; nested settings as ``RECSYS_MODEL__EPOCHS=40``, ``RECSYS_LISTS__MUST_WATCH_LEN=50``."""

    model_config = SettingsConfigDict(
        env_prefix="RECSYS_", extra="forbid", frozen=True, env_nested_delimiter="__", protected_namespaces=()
    )

    #: Cron expression (5 fields, UTC) for scheduled cycles; wins over the interval when set.
    schedule_cron: str | None = None
    schedule_interval_seconds: int = 3600
    #: Where ``recsys schedule`` serves the engine's Prometheus metrics (cycles, steps, serving version).
    engine_metrics_host: str = "127.0.0.1"
    engine_metrics_port: int = Field(default=9110, ge=0, le=65_535)  # 0: no metrics server
    #: Where ``recsys online`` serves its Prometheus metrics (``recsys_online_healthy`` for healthchecks).
    online_metrics_host: str = "127.0.0.1"
    online_metrics_port: int = Field(default=9109, ge=0, le=65_535)  # 0: no metrics server
    model: ModelConfig = ModelConfig()
    #: List sizes, scoring blocks and threads, versions kept (``RECSYS_LISTS__MUST_WATCH_LEN``, ...).
    lists: ListConfig = ListConfig()
    #: The quality gate before each promotion (``RECSYS_GATE__ENABLED``, ``RECSYS_GATE__TOLERANCE``, ...).
    gate: GateConfig = GateConfig()

    @property
    def seed_dir(self) -> Path:
        return self.data_dir / "seed"

    @property
    def artefact_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def journal_file(self) -> Path:
        return self.data_dir / "cycles.jsonl"
