"""The loop that moves rating events from Kafka into ClickHouse, at least once.

One batch at a time: consume messages until the batch is full (``batch_size``) or old
(``batch_timeout_s``) and decode each with ``recsys_common.events.EventDecoder``. Whatever fails to
decode or validate, whatever its size or shape, is routed to the dead-letter topic with its reason
and the loop goes on: only decoded events, whose every field a store can encode, reach the insert.
To flush, make sure the dead letters were delivered, insert the valid rows, and only then commit the
consumed offsets. When ClickHouse (or the dead-letter topic) fails, the flush is retried by tenacity
with capped exponential backoff; meanwhile consumption is paused, but the consumer keeps polling so
it stays in its group. Nothing is committed before the insert succeeded, so a crash at any point
causes redelivery, which the idempotent table absorbs.

The loop is a class with ``poll_once`` (one step, for tests) and ``run(stop)``; its Kafka and
ClickHouse ends are the small protocols below, so unit tests drive it with fakes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, Self

from confluent_kafka import KafkaError, KafkaException, Message
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential

from recsys_common.events import (
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_EVENT_DEPTH,
    EventDecoder,
    InvalidEvent,
    RatingRows,
    WireEvent,
)
from recsys_common.ports.ratings import RatingSourceError
from ugc_pipeline.metrics import LoaderStats

log = logging.getLogger(__name__)

#: (topic, partition) -> next offset to read, i.e. the offset to commit.
Offsets = dict[tuple[str, int], int]
#: A batch is flushed early once its dead letters hold this many bytes, so a flood of huge invalid
#: messages cannot exhaust the loader's memory before the batch is full or old.
DEAD_LETTER_BATCH_MAX_BYTES = 64 * 1024 * 1024


class CommitError(RuntimeError):
    """Kafka did not store the offsets (rebalance, broker down); the messages will be redelivered."""


class DeadLetterError(RuntimeError):
    """Some dead letters were not confirmed by Kafka; the batch must not be committed yet."""


#: What a failed flush raises when it is worth retrying (the other end is down or slow).
RETRIED_ERRORS: tuple[type[Exception], ...] = (RatingSourceError, DeadLetterError)


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
    """Where valid events go (``ClickHouseRatingStore``; ``RatingStore.append`` is its one write path)."""

    def append(self, ratings: RatingRows) -> int:
        """Insert all rows or raise RatingSourceError."""


class LoaderConfig(BaseModel):
    """The loader's knobs; the process reads them from ``RECSYS_UGC_LOADER__<FIELD>`` (``UgcSettings``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: A batch is flushed when it holds this many messages ...
    batch_size: int = Field(default=50_000, ge=1)
    #: ... or when its first message is this old.
    batch_timeout_s: float = Field(default=1.0, gt=0)
    #: Longest single wait for messages (bounds how fast a stop request is noticed).
    poll_timeout_s: float = Field(default=0.2, gt=0)
    #: Delays between attempts of a failing flush: doubling from the first to the cap.
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    #: How long a flush waits for the dead-letter topic to confirm delivery.
    dlq_timeout_s: float = Field(default=10.0, gt=0)
    #: After a stop request, how long the last flush may keep retrying (keep below the supervisor's grace).
    shutdown_timeout_s: float = Field(default=8.0, ge=0)
    #: A message longer or nested deeper than this is dead-lettered before anything parses it.
    max_message_bytes: int = Field(default=DEFAULT_MAX_EVENT_BYTES, ge=1)
    max_message_depth: int = Field(default=DEFAULT_MAX_EVENT_DEPTH, ge=1)

    def retry_wait(self) -> wait_exponential:
        """Delays between attempts: ``retry_initial_s``, doubling each time, at most ``retry_max_s``."""
        return wait_exponential(multiplier=self.retry_initial_s, max=self.retry_max_s)

    @model_validator(mode="after")
    def _retry_delays_grow(self) -> Self:
        if self.retry_initial_s > self.retry_max_s:
            raise ValueError(
                f"retry_initial_s ({self.retry_initial_s}) must not exceed retry_max_s ({self.retry_max_s})"
            )
        return self


@dataclass
class _Batch:
    events: list[WireEvent] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    offsets: Offsets = field(default_factory=dict)
    messages: int = 0
    started: float = 0.0
    dead_bytes: int = 0


def _never() -> bool:
    return False


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
        self._decode = EventDecoder(self.config.max_message_bytes, self.config.max_message_depth).decode
        self._batch = _Batch()
        self._paused = False
        self._stop_requested: Callable[[], bool] = _never
        self._give_up_at: float | None = None
        self._retrying = Retrying(
            retry=retry_if_exception_type(RETRIED_ERRORS),
            wait=self.config.retry_wait(),
            stop=self._should_give_up,
            sleep=self._wait_before_retry,
            after=self._count_failure,
            before_sleep=self._log_retry,
            retry_error_callback=lambda state: False,
        )
        source.set_revoke_handler(self._on_revoke)

    @property
    def pending(self) -> int:
        """Messages consumed but not yet committed."""
        return self._batch.messages

    # ----- the loop -----
    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set, then flush and commit what is pending (bounded wait)."""
        self._stop_requested = stop.is_set
        self.stats.running = True
        try:
            while not stop.is_set():
                self.poll_once()
            if self._batch.messages and not self._flush():
                log.error("stopping with %d uncommitted messages; Kafka will redeliver them", self._batch.messages)
        finally:
            self.stats.running = False

    def poll_once(self) -> None:
        """One step: consume, then flush when the batch is due (retrying until the flush succeeds)."""
        now = self._clock()
        self.stats.last_poll = now
        room = self.config.batch_size - self._batch.messages
        timeout = self.config.poll_timeout_s
        if self._batch.messages:
            timeout = min(timeout, max(0.0, self._batch.started + self.config.batch_timeout_s - now))
        # A rebalance inside poll may replace the batch, so look at it again afterwards.
        self._add(self._source.poll(room, timeout))
        batch = self._batch
        if batch.messages and (
            batch.messages >= self.config.batch_size
            or batch.dead_bytes >= DEAD_LETTER_BATCH_MAX_BYTES
            or self._clock() >= batch.started + self.config.batch_timeout_s
        ):
            self._flush()
        self._update_lag()

    def _add(self, messages: list[Message]) -> None:
        if not messages:
            return
        batch = self._batch
        if not batch.messages:
            batch.started = self._clock()
        events = batch.events
        offsets = batch.offsets
        decode = self._decode
        before = batch.messages
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_kafka_error(error)
                continue
            topic, partition, offset = message.topic() or "", message.partition() or 0, message.offset() or 0
            value = message.value()
            try:
                events.append(decode(value))
            except InvalidEvent as exc:
                self._dead_letter(DeadLetter(topic, partition, offset, message.key(), value, exc.reason))
            except Exception as exc:
                # The decoder raises only InvalidEvent by design; should a library under it break that
                # promise, one message must not stop every partition: it is kept in the DLQ instead.
                log.exception("the event decoder failed on %s[%d] offset %d", topic, partition, offset)
                reason = f"the decoder failed: {type(exc).__name__}: {exc}"
                self._dead_letter(DeadLetter(topic, partition, offset, message.key(), value, reason))
            offsets[(topic, partition)] = offset + 1
            batch.messages += 1
        self.stats.consumed += batch.messages - before

    def _dead_letter(self, letter: DeadLetter) -> None:
        batch = self._batch
        batch.dead.append(letter)
        batch.dead_bytes += len(letter.key or b"") + len(letter.value or b"")
        self._dlq.send(letter)

    def _on_kafka_error(self, error: KafkaError) -> None:
        if error.fatal():
            raise KafkaException(error)
        self.stats.kafka_errors += 1
        log.warning("Kafka reported an error while consuming: %s", error.str())

    # ----- flushing -----
    def _flush(self) -> bool:
        """Flush the batch, retrying while it fails; False only when a stop request ran out of time."""
        flushed = bool(self._retrying(self._flush_once))
        if flushed:
            if self._paused:
                log.info("flush succeeded after retrying; resuming consumption")
                self._resume()
            self.stats.sink_error = None
        return flushed

    def _flush_once(self) -> bool:
        """Confirm the dead letters, insert the rows, commit; raise one of RETRIED_ERRORS on failure."""
        batch = self._batch
        if batch.dead:
            self._dlq.confirm(batch.dead, self.config.dlq_timeout_s)
            self.stats.dead_lettered += len(batch.dead)
            batch.dead = []
        if batch.events:
            inserted = self._sink.append(RatingRows.from_events(batch.events))
            self.stats.inserted += inserted
            self.stats.last_insert_time = self._wall_clock()
        if batch.offsets:
            try:
                self._source.commit(batch.offsets)
                self.stats.commits += 1
            except CommitError as exc:
                # The rows are stored; the messages will come again and be absorbed as duplicates.
                self.stats.commit_failures += 1
                log.warning("offsets not committed, %d messages will be redelivered: %s", batch.messages, exc)
        self._batch = _Batch()
        return True

    def _should_give_up(self, state: RetryCallState) -> bool:
        """Retry for ever, except after a stop request: then for at most ``shutdown_timeout_s``."""
        if not self._stop_requested():
            return False
        now = self._clock()
        if self._give_up_at is None:
            self._give_up_at = now + self.config.shutdown_timeout_s
        return now >= self._give_up_at

    def _wait_before_retry(self, seconds: float) -> None:
        """Sleep between attempts; until a stop request, poll the paused consumer meanwhile."""
        if self._give_up_at is not None:
            self._sleep(max(0.0, min(seconds, self._give_up_at - self._clock())))
            return
        if not self._paused:
            self._source.pause()
            self._paused = True
        until = self._clock() + seconds
        # Polling keeps the group membership alive and runs rebalance callbacks; a revocation
        # resumes consumption, which ends the wait: the next attempt flushes what is left.
        while self._paused and not self._stop_requested():
            now = self._clock()
            self.stats.last_poll = now
            if now >= until:
                break
            self._add(self._source.poll(1, min(until - now, self.config.poll_timeout_s)))

    def _count_failure(self, state: RetryCallState) -> None:
        self.stats.flush_failures += 1
        self.stats.sink_error = str(state.outcome.exception()) if state.outcome else "unknown"

    def _log_retry(self, state: RetryCallState) -> None:
        log.warning(
            "flush of %d messages failed (attempt %d), retrying in %.1f s: %s",
            self._batch.messages,
            state.attempt_number,
            state.upcoming_sleep,
            self.stats.sink_error,
        )

    def _resume(self) -> None:
        self._paused = False
        self._source.resume()

    def _on_revoke(self, lost: bool) -> None:
        """Partitions are being taken away: commit what we can, drop the rest (it is redelivered)."""
        if self._batch.messages and not lost and not self._paused:
            try:  # one attempt: retrying would block the rebalance
                self._flush_once()
            except RETRIED_ERRORS as exc:
                log.warning("flush before the revocation failed: %s", exc)
        if self._batch.messages:
            log.warning("partitions revoked with %d uncommitted messages; they will be redelivered", self.pending)
        self._batch = _Batch()
        if self._paused:
            self._resume()

    def _update_lag(self) -> None:
        unread = self._source.lag()
        self.stats.lag = None if unread is None else unread + self._batch.messages
