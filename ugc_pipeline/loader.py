"""The loop that moves rating events from Kafka into ClickHouse, at least once.

One batch at a time: consume messages until the batch is full (``batch_size``) or old
(``batch_timeout_s``); validate each with ``recsys_common.events``; route an invalid one to the
dead-letter topic with its reason and go on; then insert the valid rows, make sure the dead letters
were delivered, and only then commit the consumed offsets. When ClickHouse (or the dead-letter
topic) fails, the batch is kept, consumption is paused and the flush is retried with capped
exponential backoff; nothing is committed meanwhile, so a crash at any point causes redelivery,
which the idempotent table absorbs.

The loop is a class with ``poll_once`` (one step, for tests) and ``run(stop)``; its Kafka and
ClickHouse ends are the small protocols below, so unit tests drive it with fakes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Message

from recsys_common.events import EventFields, InvalidEvent, RatingRows, decode_event_fields
from recsys_common.ports.ratings import RatingSourceError
from ugc_pipeline.metrics import LoaderStats

log = logging.getLogger(__name__)

#: (topic, partition) -> next offset to read, i.e. the offset to commit.
Offsets = dict[tuple[str, int], int]


class CommitError(RuntimeError):
    """Kafka did not store the offsets (rebalance, broker down); the messages will be redelivered."""


class DeadLetterError(RuntimeError):
    """Some dead letters were not confirmed by Kafka; the batch must not be committed yet."""


@dataclass(eq=False)
class DeadLetter:
    """An invalid message on its way to the dead-letter topic, with its delivery state."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    sent: bool = False
    delivered: bool = False
    error: str | None = None

    def report(self, error: KafkaError | None, message: Message) -> None:
        """Delivery callback of librdkafka."""
        self.delivered = error is None
        self.error = None if error is None else error.str()


class MessageSource(Protocol):
    """The consuming end (a Kafka consumer group member)."""

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]: ...

    def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        """Store the offsets synchronously; raise CommitError when Kafka refuses."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def lag(self) -> int | None:
        """Messages in the assigned partitions not yet consumed; None when unknown."""

    def set_revoke_handler(self, handler: Callable[[bool], None]) -> None:
        """``handler(lost)`` runs before partitions are taken away (``lost``: without a chance to commit)."""

    def close(self) -> None: ...


class DeadLetterSink(Protocol):
    """The dead-letter topic."""

    def send(self, letter: DeadLetter) -> None:
        """Hand the letter to the producer (asynchronous); failures are found by ``confirm``."""

    def confirm(self, letters: Sequence[DeadLetter], timeout_s: float) -> None:
        """Wait until every letter is delivered (re-sending failed ones); raise DeadLetterError."""

    def close(self) -> None: ...


class RowSink(Protocol):
    """Where valid events go (``ClickHouseRatingStore``)."""

    def insert_rows(self, rows: RatingRows) -> int:
        """Insert all rows or raise RatingSourceError."""


class Backoff:
    """Exponential backoff: ``initial``, ``initial * factor``, ... capped at ``maximum``."""

    FACTOR = 2.0

    def __init__(self, initial_s: float, maximum_s: float) -> None:
        if not 0 < initial_s <= maximum_s:
            raise ValueError(f"backoff needs 0 < initial ({initial_s}) <= maximum ({maximum_s})")
        self._initial = initial_s
        self._maximum = maximum_s
        self._next = initial_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * self.FACTOR, self._maximum)
        return delay

    def reset(self) -> None:
        self._next = self._initial


@dataclass(frozen=True)
class LoaderConfig:
    batch_size: int = 50_000
    batch_timeout_s: float = 1.0
    #: Longest single wait inside ``poll_once`` (bounds how fast a stop request is noticed).
    poll_timeout_s: float = 0.2
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    #: How long a flush waits for the dead-letter topic to confirm delivery.
    dlq_timeout_s: float = 10.0
    #: How long ``run`` keeps retrying the last flush after a stop request.
    shutdown_timeout_s: float = 8.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        for name in ("batch_timeout_s", "poll_timeout_s", "dlq_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


@dataclass
class _Batch:
    rows: list[EventFields] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    offsets: Offsets = field(default_factory=dict)
    messages: int = 0
    started: float = 0.0
    inserted: bool = False


class Loader:
    """Kafka -> ClickHouse loop. Not thread-safe: one thread calls ``poll_once`` / ``run``."""

    def __init__(
        self,
        source: MessageSource,
        sink: RowSink,
        dead_letters: DeadLetterSink,
        config: LoaderConfig | None = None,
        *,
        stats: LoaderStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._source = source
        self._sink = sink
        self._dlq = dead_letters
        self.config = config or LoaderConfig()
        self.stats = stats or LoaderStats()
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s)
        self._batch = _Batch()
        self._retry_at: float | None = None
        source.set_revoke_handler(self._on_revoke)

    @property
    def pending(self) -> int:
        """Messages consumed but not yet committed."""
        return self._batch.messages

    @property
    def retrying(self) -> bool:
        return self._retry_at is not None

    # ----- the loop -----
    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set, then flush and commit what is pending (bounded wait)."""
        self.stats.running = True
        try:
            while not stop.is_set():
                self.poll_once()
            self._drain()
        finally:
            self.stats.running = False

    def poll_once(self) -> None:
        """One step: consume (or wait out a retry delay), then flush when the batch is due."""
        now = self._clock()
        self.stats.last_poll = now
        if self._retry_at is not None:
            wait = self._retry_at - now
            if wait > 0:
                # Consumption is paused; polling keeps the group membership alive.
                self._add(self._source.poll(1, min(wait, self.config.poll_timeout_s)))
            else:
                self._flush()
        else:
            room = self.config.batch_size - self._batch.messages
            timeout = self.config.poll_timeout_s
            if self._batch.messages:
                timeout = min(timeout, max(0.0, self._batch.started + self.config.batch_timeout_s - now))
            # A rebalance inside poll may replace the batch, so look at it again afterwards.
            self._add(self._source.poll(room, timeout))
            batch = self._batch
            if batch.messages and (
                batch.messages >= self.config.batch_size or self._clock() >= batch.started + self.config.batch_timeout_s
            ):
                self._flush()
        self._update_lag()

    def _add(self, messages: list[Message]) -> None:
        if not messages:
            return
        batch = self._batch
        if not batch.messages:
            batch.started = self._clock()
        rows = batch.rows
        offsets = batch.offsets
        before = batch.messages
        rows_before = len(rows)
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_kafka_error(error)
                continue
            topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
            try:
                rows.append(decode_event_fields(message.value()))
            except InvalidEvent as exc:
                letter = DeadLetter(topic, partition, offset, message.key(), message.value(), exc.reason)
                batch.dead.append(letter)
                self._dlq.send(letter)
            offsets[(topic, partition)] = offset + 1
            batch.messages += 1
        if batch.inserted and len(rows) > rows_before:
            # Rows joined a batch that was inserted but not yet committed (possible only while
            # retrying): insert the whole batch again; the copies are harmless.
            batch.inserted = False
        self.stats.consumed += batch.messages - before

    def _on_kafka_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        self.stats.kafka_errors += 1
        log.warning("Kafka reported an error while consuming: %s", error.str())

    # ----- flushing -----
    def _flush(self) -> bool:
        """Insert, confirm dead letters, commit. On failure keep the batch and schedule a retry."""
        batch = self._batch
        try:
            if batch.rows and not batch.inserted:
                inserted = self._sink.insert_rows(RatingRows.from_fields(batch.rows))
                batch.inserted = True
                self.stats.inserted += inserted
                self.stats.last_insert_time = self._wall_clock()
            if batch.dead:
                self._dlq.confirm(batch.dead, self.config.dlq_timeout_s)
                self.stats.dead_lettered += len(batch.dead)
                batch.dead = []
        except (RatingSourceError, DeadLetterError) as exc:
            self._schedule_retry(exc)
            return False
        if batch.offsets:
            try:
                self._source.commit(batch.offsets)
                self.stats.commits += 1
            except CommitError as exc:
                # The rows are stored; the messages will come again and be absorbed as duplicates.
                self.stats.commit_failures += 1
                log.warning("offsets not committed, %d messages will be redelivered: %s", batch.messages, exc)
        self._batch = _Batch()
        if self._retry_at is not None:
            log.info("flush succeeded after retrying; resuming consumption")
            self._retry_at = None
            self._source.resume()
        self._backoff.reset()
        self.stats.sink_error = None
        return True

    def _schedule_retry(self, exc: Exception) -> None:
        delay = self._backoff.next_delay()
        self.stats.flush_failures += 1
        self.stats.sink_error = str(exc)
        log.warning("flush of %d messages failed, retrying in %.1f s: %s", self._batch.messages, delay, exc)
        if self._retry_at is None:
            self._source.pause()
        self._retry_at = self._clock() + delay

    def _drain(self) -> None:
        """After a stop request: flush what is pending, retrying until the shutdown timeout."""
        deadline = self._clock() + self.config.shutdown_timeout_s
        while self._batch.messages:
            if self._flush():
                return
            now = self._clock()
            if self._retry_at is None or now >= deadline:
                break
            self._sleep(max(0.0, min(self._retry_at, deadline) - now))
        if self._batch.messages:
            log.error("stopping with %d uncommitted messages; Kafka will redeliver them", self._batch.messages)

    def _on_revoke(self, lost: bool) -> None:
        """Partitions are being taken away: commit what we can, drop the rest (it is redelivered)."""
        if self._batch.messages and not lost and self._retry_at is None:
            self._flush()
        if self._batch.messages:
            log.warning("partitions revoked with %d uncommitted messages; they will be redelivered", self.pending)
        self._batch = _Batch()
        if self._retry_at is not None:
            self._retry_at = None
            self._source.resume()
        self._backoff.reset()

    def _update_lag(self) -> None:
        unread = self._source.lag()
        self.stats.lag = None if unread is None else unread + self._batch.messages
