"""A small engine for tests that need real cycles: tiny lists and a one-epoch, four-component model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from recommender_engine.cycle import CycleJournal, Engine, ListConfig, PublishingStore
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.ports.ratings import RatingSource
from tests.datasets import synthetic_films


def small_engine(
    tmp_path: Path,
    ratings: RatingSource,
    store: PublishingStore,
    films: Callable[[], pd.DataFrame] = synthetic_films,
    journal: CycleJournal | None = None,
) -> Engine:
    """An engine over ``ratings`` and ``store`` whose artefacts and journal live under ``tmp_path``."""
    return Engine(
        ratings=ratings,
        store=store,
        films=films,
        lists=ListConfig(must_watch_len=5, genre_len=2, cold_start_len=5),
        model=ModelConfig(epochs=1, no_components=4),
        artefact_dir=tmp_path / "models",
        journal=journal if journal is not None else CycleJournal(tmp_path / "cycles.jsonl"),
    )
