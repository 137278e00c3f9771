"""Kafka RatingPublisher (confluent-kafka): idempotent producer, ``acks=all``, delivery reports.

``publish`` returns only after the broker acknowledged the message to all in-sync replicas; it
raises PublishError when the broker refused it or no report arrived within ``timeout_s``. After a
timeout the message may still be delivered later; that is harmless, because the loader and the
ClickHouse table are idempotent by event id, so a caller may simply retry the same event.

Messages are keyed by user id, so one viewer's ratings stay in order within a partition.
Thread-safe: the Movies API's request workers may share one publisher.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from recsys_common.domain import RatingEvent
from recsys_common.events import RATINGS_TOPIC, encode_event
from recsys_common.ports.publisher import PublishError, RatingPublisher

#: Longest single wait for delivery reports; short so a timeout is honoured closely.
POLL_SLICE_S = 0.05
#: How long ``close`` waits for messages still in flight.
CLOSE_FLUSH_TIMEOUT_S = 10.0
#: Small batching delay: enough to group concurrent requests, invisible to a viewer.
LINGER_MS = 5


class _Delivery:
    """The delivery report of one message, handed from librdkafka's callback to the caller."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: KafkaError | None = None

    def report(self, error: KafkaError | None, message: Message) -> None:
        self.error = error
        self.done.set()


class KafkaRatingPublisher(RatingPublisher):
    """Publishes rating events to ``topic``; the producer is created on first use."""

    def __init__(self, bootstrap: str, *, topic: str = RATINGS_TOPIC, config: Mapping[str, Any] | None = None) -> None:
        if not bootstrap:
            raise ValueError("Kafka bootstrap servers must not be empty (set RECSYS_KAFKA_BOOTSTRAP)")
        self._topic = topic
        self._config: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "client.id": "recsys-rating-publisher",
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": LINGER_MS,
            **(config or {}),
        }
        self._producer: Producer | None = None
        self._lock = threading.Lock()

    @property
    def topic(self) -> str:
        return self._topic

    def _get_producer(self) -> Producer:
        with self._lock:
            if self._producer is None:
                try:
                    self._producer = Producer(self._config)
                except KafkaException as exc:
                    raise PublishError(f"cannot create the Kafka producer: {exc}") from exc
            return self._producer

    def publish(self, event: RatingEvent, timeout_s: float) -> None:
        """Send the event and wait for its delivery report.

        Raises InvalidEvent (a ValueError) when the event breaks the schema, PublishError when
        Kafka did not accept it within ``timeout_s`` seconds.
        """
        self.publish_many([event], timeout_s)

    def publish_many(self, events: Sequence[RatingEvent], timeout_s: float) -> None:
        """Send every event, then wait for all their delivery reports (one wait for the batch).

        Raises InvalidEvent before sending anything when an event breaks the schema, PublishError
        when Kafka did not accept all of them within ``timeout_s`` seconds.
        """
        payloads = [(encode_event(event), event.user_id.encode()) for event in events]
        producer = self._get_producer()
        deliveries = []
        for payload, key in payloads:
            delivery = _Delivery()
            try:
                producer.produce(self._topic, value=payload, key=key, on_delivery=delivery.report)
            except BufferError as exc:
                raise PublishError(f"the producer's local queue is full: {exc}") from exc
            except KafkaException as exc:
                raise PublishError(f"Kafka refused the event: {exc}") from exc
            deliveries.append(delivery)
        deadline = time.monotonic() + timeout_s
        for delivery in deliveries:
            while not delivery.done.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise PublishError(f"no delivery report from Kafka within {timeout_s:g} s (topic {self._topic})")
                producer.poll(min(remaining, POLL_SLICE_S))
            if delivery.error is not None:
                raise PublishError(f"Kafka did not accept the event: {delivery.error.str()}")

    def check(self, timeout_s: float) -> None:
        """Raise PublishError unless the cluster answers and the topic has partitions."""
        producer = self._get_producer()
        try:
            metadata = producer.list_topics(topic=self._topic, timeout=timeout_s)
        except KafkaException as exc:
            raise PublishError(f"Kafka metadata request failed: {exc}") from exc
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            reason = "missing" if topic is None else (topic.error or "no partitions")
            raise PublishError(f"Kafka topic {self._topic} is not available: {reason}")

    def close(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.flush(CLOSE_FLUSH_TIMEOUT_S)
