"""The engine process's composition root: settings -> adapters -> Engine. Nothing else wires."""

from __future__ import annotations

from dataclasses import dataclass

from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.settings import EngineSettings
from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.ports.ratings import RatingStore
from recsys_common.ports.recstore import RecStore
from recsys_datasets import load_seed


def rating_store(settings: EngineSettings) -> RatingStore:
    if settings.clickhouse_url:
        store = ClickHouseRatingStore(settings.clickhouse_url)
        store.ensure_schema()
        return store
    return SqliteRatingStore(settings.ratings_db)


def rec_store(settings: EngineSettings) -> RecStore:
    if settings.redis_url:
        return RedisRecStore(settings.redis_url, prefix=settings.redis_prefix)
    return SqliteRecStore(settings.recstore_db)


@dataclass
class EngineApp:
    settings: EngineSettings
    ratings: RatingStore
    store: RecStore
    engine: Engine

    def close(self) -> None:
        self.store.close()


def bootstrap(settings: EngineSettings | None = None, progress: bool = False) -> EngineApp:
    settings = settings or EngineSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ratings = rating_store(settings)
    store = rec_store(settings)
    lists = ListConfig(**settings.model_dump(include=set(ListConfig.model_fields)))
    engine = Engine(
        ratings=ratings,
        store=store,
        films=lambda: load_seed(settings.seed_dir).films,
        lists=lists,
        model=settings.model,
        artefact_dir=settings.artefact_dir,
        journal=CycleJournal(settings.journal_file),
        progress=progress,
    )
    return EngineApp(settings, ratings, store, engine)
