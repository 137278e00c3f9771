"""The online loop on the production adapters: ratings published to Kafka (librdkafka's mock cluster)
reach the updater through its own consumer group, and the folded-in lists land in Redis as overlays
of the serving version within seconds."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recommender_engine.online import OnlineUpdater
from recsys_common.adapters.kafka_feed import KafkaRatingFeed
from recsys_common.adapters.kafka_publisher import KafkaRatingPublisher
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.columns import Columns
from recsys_common.domain import RatingEvent
from tests.datasets import BASE_TIMESTAMP, synthetic_films, synthetic_ratings
from tests.integration.conftest import MockKafka

pytestmark = pytest.mark.integration

FILMS = synthetic_films(60, source="online")
#: Generous: the mock cluster's first rebalance of a new group takes about 3 s.
OVERLAY_TIMEOUT_S = 20.0
PUBLISH_TIMEOUT_S = 5.0


@pytest.fixture
def running(tmp_path: Path, kafka: MockKafka, redis_url: str, redis_prefix: str) -> Iterator[tuple[RedisRecStore, str]]:
    ratings = SqliteRatingStore(tmp_path / "ratings.sqlite")
    ratings.append(synthetic_ratings(FILMS, 20, 8))
    store = RedisRecStore(redis_url, prefix=redis_prefix)
    Engine(
        ratings=ratings,
        store=store,
        films=lambda: FILMS,
        lists=ListConfig(must_watch_len=10, genre_len=4, cold_start_len=5),
        model=ModelConfig(epochs=5, no_components=8),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    ).run_cycle()
    topic = kafka.new_name("ratings")
    feed = KafkaRatingFeed(
        kafka.bootstrap,
        group=kafka.new_name("online"),
        topic=topic,
        config={"auto.offset.reset": "earliest", "session.timeout.ms": 6000},
    )
    updater = OnlineUpdater(ratings, store, feed, lambda: FILMS, tmp_path / "models")
    stop = threading.Event()
    thread = threading.Thread(target=updater.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield store, topic
    finally:
        stop.set()
        thread.join(OVERLAY_TIMEOUT_S)
        feed.close()
        store.close()


def test_ratings_on_kafka_become_overlays_in_redis(running: tuple[RedisRecStore, str], kafka: MockKafka) -> None:
    store, topic = running
    publisher = KafkaRatingPublisher(kafka.bootstrap, topic=topic)
    user = f"viewer-{uuid.uuid4().hex[:6]}"
    liked = FILMS[Columns.Item].iloc[:3].tolist()
    for i, film in enumerate(liked):
        publisher.publish(
            RatingEvent(str(uuid.uuid4()), user, film, 9.0, BASE_TIMESTAMP + 50_000 + i), PUBLISH_TIMEOUT_S
        )
    publisher.close()
    meta = store.current()
    assert meta is not None
    deadline = time.monotonic() + OVERLAY_TIMEOUT_S
    lists = None
    while time.monotonic() < deadline:
        lists = store.user_lists(user, meta)  # the user is new: no batch record, only an overlay can answer
        if lists is not None:
            break
        time.sleep(0.1)
    assert lists is not None and lists.overlay, f"no overlay within {OVERLAY_TIMEOUT_S:g} s"
    assert len(lists.must_watch) == 10
    assert not set(liked) & set(lists.must_watch)
