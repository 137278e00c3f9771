"""The tuned model file (``recsys tune`` writes it, the composition root applies it).

``tuned_model.json`` in the data directory holds the ``ModelConfig`` fields of the tuning winner that
differ from the defaults (``model``), the validation figures of the configuration it started from and
of the winner (``validation``), when it was tuned (``tuned_at``) and, for a run on the rating store
(``recsys schedule``), the number of ratings and the rating watermark it was tuned on (``data``).
Precedence, field by field: an explicit ``RECSYS_MODEL__*`` (or ``RECSYS_MODEL``) variable, then the tuned file,
then the default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from recommender_engine.model.hybrid import ModelConfig

TUNED_MODEL_FILE = "tuned_model.json"


class TunedFileError(ValueError):
    """The tuned model file cannot be read or names fields the model does not have."""


def changed_fields(config: ModelConfig) -> dict[str, Any]:
    """The fields of ``config`` that differ from ``ModelConfig()``'s defaults, JSON-ready."""
    defaults = ModelConfig().model_dump(mode="json")
    return {name: value for name, value in config.model_dump(mode="json").items() if defaults[name] != value}


def write_tuned(
    path: Path, config: ModelConfig, validation: dict[str, Any], tuned_at: str, data: dict[str, Any] | None = None
) -> None:
    """Write the winner ``config`` (its fields that differ from the defaults) atomically."""
    payload = {"model": changed_fields(config), "validation": validation, "tuned_at": tuned_at}
    if data is not None:
        payload["data"] = data
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


def read_tuned(path: Path) -> dict[str, Any] | None:
    """The tuned file's whole payload, or None when there is no file."""
    if not path.exists():
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TunedFileError(f"{path}: cannot be read ({exc})") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("model"), dict):
        raise TunedFileError(f"{path}: no 'model' object")
    return payload


def effective_model_config(explicit: ModelConfig, tuned_file: Path) -> ModelConfig:
    """``explicit`` (the settings' model: its explicitly set fields win) over the tuned file's fields
    over the defaults."""
    payload = read_tuned(tuned_file)
    if payload is None:
        return explicit
    chosen = explicit.model_dump(include=explicit.model_fields_set)
    try:
        return ModelConfig.model_validate({**payload["model"], **chosen})
    except ValidationError as exc:
        raise TunedFileError(f"{tuned_file}: {exc}") from exc
