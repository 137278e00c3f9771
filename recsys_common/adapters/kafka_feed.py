"""The online loop's rating feed in production: the ``ratings`` topic, read by a consumer group of its
own (the UGC loader's group is another), so every updater process gets a share of the partitions and
a user's events always reach the same process (the topic is keyed by user id).

Messages that are not valid events are skipped here: the UGC loader dead-letters them. Offsets are
committed only after the caller handled the polled events (``commit``), so a crash re-delivers them
(folding a user in twice is harmless).
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException

from recsys_common.domain import RatingEvent
from recsys_common.events import RATINGS_TOPIC, EventDecoder, InvalidEvent
from recsys_common.ports.ratings import RatingSourceError

log = logging.getLogger(__name__)

DEFAULT_GROUP = "recsys-online-updater"
#: The broker answers a fetch at once when data is there, else after this long (librdkafka's default,
#: 500 ms, would be most of the online loop's one-second budget).
FETCH_WAIT_MS = 20
#: Messages taken per poll at most.
MAX_MESSAGES = 1_000


class KafkaRatingFeed:
    """``RatingFeed`` over Kafka; ``config`` adds to (and may override) the consumer settings."""

    def __init__(
        self,
        bootstrap: str,
        group: str = DEFAULT_GROUP,
        topic: str = RATINGS_TOPIC,
        config: dict[str, Any] | None = None,
    ) -> None:
        settings: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            # A new group starts at the end: the serving version's watermark covers what came before.
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": FETCH_WAIT_MS,
            **(config or {}),
        }
        self._consumer = Consumer(settings)
        self._consumer.subscribe([topic])
        self._decoder = EventDecoder()
        self.skipped = 0

    def poll(self, timeout_s: float) -> list[RatingEvent]:
        try:
            messages = self._consumer.consume(MAX_MESSAGES, timeout_s)
        except KafkaException as exc:
            raise RatingSourceError(f"cannot read the ratings topic: {exc}") from exc
        events = []
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("ratings topic: %s", error)
                continue
            try:
                wire = self._decoder.decode(message.value())
            except InvalidEvent:
                self.skipped += 1  # the UGC loader dead-letters it
                continue
            events.append(RatingEvent(wire.event_id, wire.user_id, wire.film_id, wire.rating, wire.timestamp))
        return events

    def commit(self) -> None:
        try:
            self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args and isinstance(exc.args[0], KafkaError) and exc.args[0].code() == KafkaError._NO_OFFSET:
                return  # nothing consumed since the last commit
            raise RatingSourceError(f"cannot commit the ratings topic offsets: {exc}") from exc

    def close(self) -> None:
        self._consumer.close()
