"""The engine process's settings (the only place it reads the environment)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from recommender_engine.cycle import ListConfig
from recommender_engine.gate import GateConfig
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.model.tuned import TUNED_MODEL_FILE
from recsys_common.settings import CommonSettings

#: The list variables before they moved under ``RECSYS_LISTS__``: refused, so a deployment that still
#: sets one does not quietly run on the defaults.
MOVED_TO_LISTS = {f"RECSYS_{name.upper()}": f"RECSYS_LISTS__{name.upper()}" for name in ListConfig.model_fields}


class EngineSettings(CommonSettings):
    """``RECSYS_*`` variables; nested settings as ``RECSYS_MODEL__EPOCHS=40``, ``RECSYS_LISTS__MUST_WATCH_LEN=50``.

    ``model`` holds only what the environment says; the engine runs ``bootstrap.model_config``: field
    by field, an explicit ``RECSYS_MODEL__*`` variable wins over the winner of ``recsys tune``
    (``tuned_model_file``), which wins over ``ModelConfig``'s defaults.
    """

    model_config = SettingsConfigDict(
        env_prefix="RECSYS_", extra="forbid", frozen=True, env_nested_delimiter="__", protected_namespaces=()
    )

    #: Cron expression (5 fields, UTC) for scheduled cycles; wins over the interval when set.
    schedule_cron: str | None = None
    schedule_interval_seconds: int = 3600
    #: Re-tuning in ``recsys schedule`` (off unless one trigger is set): a cron expression (5 fields, UTC),
    #: and/or the fraction by which the ratings must have grown since the last tuning (checked before
    #: each cycle); each run searches ``tune_trials`` trials within ``tune_budget_seconds``.
    tune_cron: str | None = None
    tune_growth: float | None = Field(default=None, gt=0)
    tune_trials: int = Field(default=20, ge=1)
    tune_budget_seconds: float = Field(default=1800.0, gt=0)
    #: Where ``recsys schedule`` serves the engine's Prometheus metrics (cycles, steps, serving version).
    engine_metrics_host: str = "127.0.0.1"
    engine_metrics_port: int = Field(default=9110, ge=0, le=65_535)  # 0: no metrics server
    #: Where ``recsys online`` serves its Prometheus metrics (``recsys_online_healthy`` for healthchecks).
    online_metrics_host: str = "127.0.0.1"
    online_metrics_port: int = Field(default=9109, ge=0, le=65_535)  # 0: no metrics server
    #: Address of a Dask distributed scheduler (``tcp://host:8786``): score and publish on its
    #: workers (``recommender_engine.distributed``); unset: in-process.
    dask_scheduler: str | None = None
    model: ModelConfig = ModelConfig()
    #: List sizes, scoring blocks and threads, versions kept (``RECSYS_LISTS__MUST_WATCH_LEN``, ...).
    lists: ListConfig = ListConfig()
    #: The quality gate before each promotion (``RECSYS_GATE__ENABLED``, ``RECSYS_GATE__TOLERANCE``, ...).
    gate: GateConfig = GateConfig()

    @model_validator(mode="after")
    def _no_moved_variables(self) -> Self:
        moved = sorted({name.upper() for name in os.environ} & MOVED_TO_LISTS.keys())
        if moved:
            renames = ", ".join(f"{old} -> {MOVED_TO_LISTS[old]}" for old in moved)
            raise ValueError(f"list settings moved, rename the variables: {renames}")
        return self

    @property
    def seed_dir(self) -> Path:
        return self.data_dir / "seed"

    @property
    def artefact_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def tuned_model_file(self) -> Path:
        return self.data_dir / TUNED_MODEL_FILE

    @property
    def journal_file(self) -> Path:
        return self.data_dir / "cycles.jsonl"
