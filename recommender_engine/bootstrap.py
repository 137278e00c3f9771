"""The engine process's composition root: settings -> adapters -> Engine. Nothing else wires.

Nothing connects here: every adapter connects on first use, so ``recsys status`` answers (from the
RecStore and the journal) even while ClickHouse or Elasticsearch is down.
"""

from __future__ import annotations

from dataclasses import dataclass

from recommender_engine.cycle import CycleJournal, Engine
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.model.tuned import effective_model_config
from recommender_engine.online import OnlineUpdater, RatingFeed, StoreFeed
from recommender_engine.settings import EngineSettings
from recsys_common.adapters.catalogs import open_catalog
from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.adapters.kafka_feed import KafkaRatingFeed
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.ports.catalog import Catalog
from recsys_common.ports.ratings import RatingStore
from recsys_common.ports.recstore import RecStore
from recsys_common.settings import redact_url
from recsys_datasets.frames import frame_of_films


def rating_store(settings: EngineSettings) -> RatingStore:
    if settings.clickhouse_url:
        return ClickHouseRatingStore(settings.clickhouse_url, create_schema=True, cluster=settings.clickhouse_cluster)
    return SqliteRatingStore(settings.ratings_db)


def rec_store(settings: EngineSettings) -> RecStore:
    if settings.redis_url:
        return RedisRecStore(settings.redis_url, prefix=settings.redis_prefix)
    return SqliteRecStore(settings.recstore_db)


def model_config(settings: EngineSettings) -> ModelConfig:
    """The model the engine runs: explicit ``RECSYS_MODEL__*`` variables over the tuned file
    (``recsys tune``) over the defaults; raises ``model.tuned.TunedFileError`` (a ValueError) for a bad file."""
    return effective_model_config(settings.model, settings.tuned_model_file)


@dataclass
class EngineApp:
    settings: EngineSettings
    ratings: RatingStore
    store: RecStore
    catalog: Catalog
    engine: Engine
    #: ``model_config(settings)``: the model configuration the engine runs.
    model: ModelConfig

    @property
    def store_location(self) -> str:
        """Where lists are published, without any password."""
        settings = self.settings
        return redact_url(settings.redis_url) if settings.redis_url else str(settings.recstore_db)

    def close(self) -> None:
        self.store.close()
        self.catalog.close()


@dataclass
class OnlineApp:
    """The online updater process (``recsys online``): its own composition root."""

    settings: EngineSettings
    updater: OnlineUpdater
    feed: RatingFeed
    store: RecStore
    catalog: Catalog

    def close(self) -> None:
        self.feed.close()
        self.store.close()
        self.catalog.close()


def online(settings: EngineSettings | None = None) -> OnlineApp:
    """Wire the online updater: the rating feed is Kafka when ``RECSYS_KAFKA_BOOTSTRAP`` is set, else
    the embedded rating store; the rest as the engine's (the same store, catalogue and model artefacts)."""
    settings = settings or EngineSettings()
    ratings = rating_store(settings)
    store = rec_store(settings)
    films = open_catalog(settings)
    feed: RatingFeed = KafkaRatingFeed(settings.kafka_bootstrap) if settings.kafka_bootstrap else StoreFeed(ratings)
    updater = OnlineUpdater(ratings, store, feed, lambda: frame_of_films(films.films()), settings.artefact_dir)
    return OnlineApp(settings, updater, feed, store, films)


def bootstrap(settings: EngineSettings | None = None, progress: bool = False) -> EngineApp:
    settings = settings or EngineSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    model = model_config(settings)
    ratings = rating_store(settings)
    store = rec_store(settings)
    films = open_catalog(settings)
    engine = Engine(
        ratings=ratings,
        store=store,
        films=lambda: frame_of_films(films.films()),
        lists=settings.lists,
        model=model,
        artefact_dir=settings.artefact_dir,
        journal=CycleJournal(settings.journal_file),
        progress=progress,
        gate=settings.gate,
    )
    return EngineApp(settings, ratings, store, films, engine, model)
