"""The Kafka RatingPublisher against librdkafka's mock cluster (a real broker protocol over TCP)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from recsys_common.adapters.kafka_publisher import KafkaRatingPublisher
from recsys_common.domain import RatingEvent
from recsys_common.events import EventDecoder, InvalidEvent
from recsys_common.ids import film_id_for
from recsys_common.ports.publisher import PublishError

if TYPE_CHECKING:
    from tests.integration.conftest import MockKafka

pytestmark = pytest.mark.integration

FILM = film_id_for("publisher:1")
TIMEOUT_S = 10.0
UNREACHABLE_TIMEOUT_S = 1.0
#: How much longer than its timeout a failing call may take.
TIMEOUT_SLACK_S = 2.0


def decode_event(value: bytes | None) -> RatingEvent:
    decoded = EventDecoder().decode(value)
    return RatingEvent(decoded.event_id, decoded.user_id, decoded.film_id, decoded.rating, decoded.timestamp)


def event(user: str = "alice", rating: float = 8.0) -> RatingEvent:
    return RatingEvent(str(uuid.uuid4()), user, FILM, rating, 1_700_000_000)


@pytest.fixture
def publisher(kafka: MockKafka) -> Iterator[KafkaRatingPublisher]:
    created = KafkaRatingPublisher(kafka.bootstrap, topic=kafka.new_name("ratings"))
    yield created
    created.close()


@pytest.fixture
def unreachable_bootstrap() -> Iterator[str]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_published_events_arrive_keyed_by_user(kafka: MockKafka, publisher: KafkaRatingPublisher) -> None:
    sent = [event("alice", 8.0), event("bob", 3.5), event("alice", 10.0)]
    for one in sent:
        publisher.publish(one, TIMEOUT_S)

    records = kafka.read(publisher.topic, len(sent))

    assert {(r.key, decode_event(r.value)) for r in records} == {(e.user_id.encode(), e) for e in sent}
    alice_partitions = {r.partition for r in records if r.key == b"alice"}
    assert len(alice_partitions) == 1  # one viewer's ratings stay in order


def test_a_batch_is_published_at_once_and_a_bad_event_stops_it_before_sending(
    kafka: MockKafka, publisher: KafkaRatingPublisher
) -> None:
    sent = [event("alice", 8.0), event("bob", 2.0), event("carol", 10.0)]
    with pytest.raises(InvalidEvent):
        publisher.publish_many([sent[0], RatingEvent(str(uuid.uuid4()), "bob", FILM, 0.5, 0)], TIMEOUT_S)
    publisher.publish_many(sent, TIMEOUT_S)

    records = kafka.read(publisher.topic, len(sent))
    assert sorted(decode_event(r.value).user_id for r in records) == ["alice", "bob", "carol"]


def test_check_passes_when_the_topic_is_available(publisher: KafkaRatingPublisher) -> None:
    publisher.check(TIMEOUT_S)


def test_invalid_event_is_refused_before_anything_is_sent(kafka: MockKafka, publisher: KafkaRatingPublisher) -> None:
    with pytest.raises(InvalidEvent, match="rating"):
        publisher.publish(RatingEvent(str(uuid.uuid4()), "alice", FILM, 11.0, 1_700_000_000), TIMEOUT_S)
    with pytest.raises(InvalidEvent, match="user id must not contain surrogates"):
        publisher.publish(RatingEvent(str(uuid.uuid4()), "alice\ud800", FILM, 5.0, 1_700_000_000), TIMEOUT_S)
    publisher.publish(event("carol"), TIMEOUT_S)

    records = kafka.read(publisher.topic, 1)
    assert [decode_event(r.value).user_id for r in records] == ["carol"]


def test_publish_to_an_unreachable_broker_raises_within_the_timeout(unreachable_bootstrap: str) -> None:
    publisher = KafkaRatingPublisher(unreachable_bootstrap, topic=f"ratings-{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    with pytest.raises(PublishError, match="within"):
        publisher.publish(event(), UNREACHABLE_TIMEOUT_S)
    assert time.monotonic() - started < UNREACHABLE_TIMEOUT_S + TIMEOUT_SLACK_S
    with pytest.raises(PublishError):
        publisher.check(UNREACHABLE_TIMEOUT_S)


def test_empty_bootstrap_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="RECSYS_KAFKA_BOOTSTRAP"):
        KafkaRatingPublisher("")
