"""The loader's Kafka ends: a consumer-group member (MessageSource) and the dead-letter producer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition

from recsys_common.events import (
    DLQ_KEY_BYTES_HEADER,
    DLQ_REASON_HEADER,
    DLQ_SOURCE_OFFSET_HEADER,
    DLQ_SOURCE_PARTITION_HEADER,
    DLQ_SOURCE_TOPIC_HEADER,
    DLQ_VALUE_BYTES_HEADER,
)
from ugc_pipeline.loader import CommitError, DeadLetter, DeadLetterError

log = logging.getLogger(__name__)

#: librdkafka's "no offset yet" marker (OFFSET_INVALID).
_NO_OFFSET = -1001
#: How long ``send`` waits for room in a full producer queue before leaving it to ``confirm``.
QUEUE_FULL_WAIT_S = 0.5
#: How long closing the dead-letter producer waits for messages in flight.
CLOSE_FLUSH_TIMEOUT_S = 5.0
#: What a dead letter carries at most, so it always fits the producer's default ``message.max.bytes``
#: (1,000,000) whatever arrived: a record it could not send would be retried for ever.
DEAD_LETTER_KEY_MAX_BYTES = 16 * 1024
DEAD_LETTER_VALUE_MAX_BYTES = 512 * 1024
DEAD_LETTER_REASON_MAX_CHARS = 1_000


def consumer_config(bootstrap: str, group_id: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Consumer settings of the loader: manual commits, start from the beginning of a new group."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": "recsys-ugc-loader",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        **(extra or {}),
    }


def producer_config(bootstrap: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Dead-letter producer settings: idempotent, acknowledged by all in-sync replicas."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": "recsys-ugc-loader-dlq",
        "enable.idempotence": True,
        "acks": "all",
        **(extra or {}),
    }


class KafkaMessageSource:
    """A consumer-group member subscribed to ``topics``; pauses survive rebalances."""

    def __init__(self, config: Mapping[str, Any], topics: Sequence[str]) -> None:
        self._consumer = Consumer(dict(config))
        self._paused = False
        # Kept from the rebalance callbacks, so no other thread ever needs to ask the consumer.
        self._assignment: list[TopicPartition] = []
        self._revoke_handler: Callable[[bool], None] | None = None
        self._consumer.subscribe(
            list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )

    def set_revoke_handler(self, handler: Callable[[bool], None]) -> None:
        self._revoke_handler = handler

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        consumer.assign(partitions)
        self._assignment = list(partitions)
        if self._paused and partitions:
            consumer.pause(partitions)
        log.info("assigned %s", ", ".join(f"{p.topic}[{p.partition}]" for p in partitions) or "nothing")

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._revoke_handler is not None:
            self._revoke_handler(False)
        consumer.unassign()
        self._assignment = []

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self._revoke_handler is not None:
            self._revoke_handler(True)
        consumer.unassign()
        self._assignment = []

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        return self._consumer.consume(max(1, max_messages), timeout_s)

    def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        positions = [TopicPartition(topic, partition, offset) for (topic, partition), offset in offsets.items()]
        try:
            stored = self._consumer.commit(offsets=positions, asynchronous=False)
        except KafkaException as exc:
            raise CommitError(str(exc)) from exc
        failed = [p for p in stored if p.error is not None]
        if failed:
            raise CommitError(", ".join(f"{p.topic}[{p.partition}]: {p.error}" for p in failed))

    def assigned(self) -> bool:
        """Whether the group has given this member any partition (safe from any thread)."""
        return bool(self._assignment)

    def pause(self) -> None:
        self._paused = True
        if self._assignment:
            self._consumer.pause(self._assignment)

    def resume(self) -> None:
        self._paused = False
        if self._assignment:
            self._consumer.resume(self._assignment)

    def lag(self) -> int | None:
        assignment = self._assignment
        if not assignment:
            return 0
        total = 0
        for position in self._consumer.position(assignment):
            _, high = self._consumer.get_watermark_offsets(position, cached=True)
            if high < 0 or position.offset == _NO_OFFSET:
                return None
            total += max(0, high - position.offset)
        return total

    def close(self) -> None:
        """Leave the group without committing or flushing anything (the loader drained before)."""
        self._revoke_handler = None
        self._consumer.close()


class KafkaDeadLetterSink:
    """Produces invalid messages to the dead-letter topic with the reason in a header."""

    def __init__(self, config: Mapping[str, Any], topic: str) -> None:
        self._producer = Producer(dict(config))
        self._topic = topic

    def send(self, letter: DeadLetter) -> None:
        reason = letter.reason
        if len(reason) > DEAD_LETTER_REASON_MAX_CHARS:
            reason = reason[: DEAD_LETTER_REASON_MAX_CHARS - 1] + "…"
        headers: list[tuple[str, str | bytes | None]] = [
            (DLQ_REASON_HEADER, reason.encode(errors="backslashreplace")),
            (DLQ_SOURCE_TOPIC_HEADER, letter.topic.encode(errors="backslashreplace")),
            (DLQ_SOURCE_PARTITION_HEADER, str(letter.partition).encode()),
            (DLQ_SOURCE_OFFSET_HEADER, str(letter.offset).encode()),
        ]
        key, value = letter.key, letter.value
        if key is not None and len(key) > DEAD_LETTER_KEY_MAX_BYTES:
            headers.append((DLQ_KEY_BYTES_HEADER, str(len(key)).encode()))
            key = key[:DEAD_LETTER_KEY_MAX_BYTES]
        if value is not None and len(value) > DEAD_LETTER_VALUE_MAX_BYTES:
            headers.append((DLQ_VALUE_BYTES_HEADER, str(len(value)).encode()))
            value = value[:DEAD_LETTER_VALUE_MAX_BYTES]
        letter.error = None

        def produce() -> None:
            self._producer.produce(self._topic, value=value, key=key, headers=headers, on_delivery=letter.report)

        try:
            try:
                produce()
            except BufferError:
                self._producer.poll(QUEUE_FULL_WAIT_S)
                produce()
        except (BufferError, KafkaException) as exc:
            letter.error = f"not handed to the producer: {exc}"
            return
        letter.sent = True
        self._producer.poll(0)

    def confirm(self, letters: Sequence[DeadLetter], timeout_s: float) -> None:
        for letter in letters:
            if not letter.delivered and (not letter.sent or letter.error is not None):
                letter.sent = False
                self.send(letter)
        self._producer.flush(timeout_s)
        missing = [letter for letter in letters if not letter.delivered]
        if missing:
            first = missing[0].error or f"no delivery report within {timeout_s:g} s"
            raise DeadLetterError(f"{len(missing)} dead letter(s) to {self._topic} not confirmed: {first}")

    def close(self) -> None:
        self._producer.flush(CLOSE_FLUSH_TIMEOUT_S)
