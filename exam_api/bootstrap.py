"""The composition root of ``python -m exam_api``: settings -> adapters -> service -> app. Nothing else wires.

Embedded default (no server URL set): the SQLite rating store written by the embedded publisher,
the SQLite RecStore and catalogue and the exam's SQLite state, all under ``data_dir`` (the engine's
child processes get the same folder). Production: Kafka carries the ratings (the UGC loader puts
them into ClickHouse, which ``/cleanup`` clears), Redis holds the RecStore and the exam's state
(separate prefixes), Elasticsearch the catalogue when its URL is set.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from exam_api.app import create_app
from exam_api.service import ExamConfig, ExamService
from exam_api.settings import ExamSettings
from exam_api.state import ExamStore
from exam_api.state_redis import RedisExamStore
from exam_api.state_sqlite import SqliteExamStore
from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.adapters.embedded_publisher import EmbeddedRatingPublisher
from recsys_common.adapters.es_catalog import ElasticsearchCatalog
from recsys_common.adapters.kafka_publisher import KafkaRatingPublisher
from recsys_common.adapters.redis_recstore import RedisRecStore, is_cluster_url
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.ports.catalog import Catalog
from recsys_common.ports.publisher import RatingPublisher
from recsys_common.ports.ratings import RatingStore
from recsys_common.ports.recstore import RecStore
from recsys_common.web import DEFAULT_MAX_HEADER_BYTES

MS_PER_S = 1000
#: The exam's own SQLite file under the data directory.
STATE_FILE = "exam.sqlite"


@dataclass
class ExamApp:
    settings: ExamSettings
    service: ExamService
    app: FastAPI
    state: ExamStore
    recstore: RecStore
    catalog: Catalog
    publisher: RatingPublisher

    def close(self) -> None:
        self.service.close()
        self.publisher.close()
        self.recstore.close()
        self.catalog.close()
        self.state.close()


def rating_path(settings: ExamSettings) -> tuple[RatingPublisher, RatingStore]:
    """Kafka + ClickHouse (both URLs set), or the embedded publisher into the SQLite rating store."""
    if bool(settings.kafka_bootstrap) != bool(settings.clickhouse_url):
        raise ValueError(
            "set both RECSYS_KAFKA_BOOTSTRAP and RECSYS_CLICKHOUSE_URL (ratings go through Kafka into "
            "ClickHouse, which /cleanup clears) or neither (the embedded SQLite rating store)"
        )
    if settings.kafka_bootstrap and settings.clickhouse_url:
        return KafkaRatingPublisher(settings.kafka_bootstrap), ClickHouseRatingStore(
            settings.clickhouse_url, create_schema=True, cluster=settings.clickhouse_cluster
        )
    ratings = SqliteRatingStore(settings.ratings_db)
    return EmbeddedRatingPublisher(ratings), ratings


def build(settings: ExamSettings | None = None) -> ExamApp:
    """Wire everything; nothing connects here (the service reads its state in ``load``)."""
    settings = settings or ExamSettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    state: ExamStore
    recstore: RecStore
    catalog: Catalog
    if settings.redis_url:
        if is_cluster_url(settings.redis_url):
            raise ValueError("the exam API keeps its own state in a standalone Redis: RECSYS_REDIS_URL names a cluster")
        if settings.exam_state_prefix == settings.redis_prefix:
            raise ValueError("the exam's state and the RecStore need different Redis prefixes")
        state = RedisExamStore(settings.redis_url, prefix=settings.exam_state_prefix)
        recstore = RedisRecStore(settings.redis_url, prefix=settings.redis_prefix)
    else:
        state = SqliteExamStore(settings.data_dir / STATE_FILE)
        recstore = SqliteRecStore(settings.recstore_db)
    if settings.elasticsearch_url:
        catalog = ElasticsearchCatalog(
            settings.elasticsearch_url,
            index=settings.elasticsearch_index,
            genres_index=settings.elasticsearch_genres_index,
            persons_index=settings.elasticsearch_persons_index,
            timeout_s=settings.elasticsearch_timeout_s,
        )
    else:
        catalog = SqliteCatalog(settings.catalog_db)
    publisher, ratings = rating_path(settings)
    config = ExamConfig(
        count=settings.exam_recs_count,
        exploration_share=settings.exam_exploration_share,
        diversity_weight=settings.exam_diversity_weight,
        seed=settings.exam_seed,
        refresh_s=settings.exam_refresh_ms / MS_PER_S,
        publish_timeout_s=settings.exam_publish_timeout_s,
    )
    service = ExamService(state, catalog, publisher, ratings, recstore, config)
    app = create_app(service, settings.exam_max_body_bytes, DEFAULT_MAX_HEADER_BYTES)
    return ExamApp(settings, service, app, state, recstore, catalog, publisher)
