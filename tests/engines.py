"""Engines for tests that need real cycles: a small engine (tiny lists, a one-epoch, four-component
model), and the embedded default trained once with the online updater running."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from recommender_engine.bootstrap import bootstrap, online
from recommender_engine.cycle import CycleJournal, Engine, ListConfig, PublishingStore
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.settings import EngineSettings
from recsys_common.ports.ratings import RatingSource
from recsys_datasets.frames import films_from_frame
from tests.datasets import synthetic_films, synthetic_ratings

#: How long the online updater may take to stop once told to.
UPDATER_STOP_TIMEOUT_S = 10.0


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


@contextmanager
def trained_embedded_default(data_dir: Path, source: str) -> Iterator[EngineSettings]:
    """The embedded default under ``data_dir``: 60 synthetic films (ids from ``source``), 20 users with
    10 ratings each, one published cycle, and the online updater folding new ratings in (a thread,
    stopped on exit). Yields the engine's settings, for the APIs to serve its files."""
    films = synthetic_films(60, source=source)
    settings = EngineSettings(data_dir=data_dir, model=ModelConfig(epochs=5, no_components=8), online_metrics_port=0)
    engine_app = bootstrap(settings)
    engine_app.catalog.upsert(films_from_frame(films))
    engine_app.ratings.append(synthetic_ratings(films, n_users=20, per_user=10))
    engine_app.engine.run_cycle()
    engine_app.close()
    online_app = online(settings)
    stop = threading.Event()
    updater = threading.Thread(target=online_app.updater.run, args=(stop,), daemon=True)
    updater.start()
    try:
        yield settings
    finally:
        stop.set()
        updater.join(UPDATER_STOP_TIMEOUT_S)
        online_app.close()
