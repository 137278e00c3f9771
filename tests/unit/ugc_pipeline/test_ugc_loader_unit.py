"""The loader's batching, dead-lettering, commit ordering and retries, driven through fakes."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Mapping, Sequence

import pytest
from confluent_kafka import KafkaError, KafkaException, Message

from recsys_common.events import RatingRows
from recsys_common.ids import film_id_for
from recsys_common.ports.ratings import RatingSourceError
from ugc_pipeline.loader import (
    DEAD_LETTER_BATCH_MAX_BYTES,
    CommitError,
    DeadLetter,
    DeadLetterError,
    Loader,
    LoaderConfig,
)

TOPIC = "ratings"
FILM = film_id_for("loader:1")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeSource:
    """Hands out queued messages; an empty poll waits out its timeout on the fake clock.

    While paused it hands out only ``late`` messages (from a partition assigned during the pause)
    and calls ``on_paused_poll`` first, so a test can act in the middle of a retry.
    """

    def __init__(self, clock: FakeClock, journal: list[str]) -> None:
        self.clock = clock
        self.journal = journal
        self.queue: list[Message] = []
        self.late: list[Message] = []
        self.on_paused_poll: Callable[[], None] | None = None
        self.commits: list[dict[tuple[str, int], int]] = []
        self.commit_error: CommitError | None = None
        self.paused = False
        self.polls_while_paused = 0
        self.revoke: Callable[[bool], None] | None = None
        self.closed = False

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        if self.paused:
            self.polls_while_paused += 1
            if self.on_paused_poll is not None:
                self.on_paused_poll()
            if self.late:
                taken, self.late = self.late[:max_messages], self.late[max_messages:]
                return taken
            self.clock.sleep(timeout_s)
            return []
        taken, self.queue = self.queue[:max_messages], self.queue[max_messages:]
        if not taken:
            self.clock.sleep(timeout_s)
        return taken

    def commit(self, offsets: Mapping[tuple[str, int], int]) -> None:
        if self.commit_error is not None:
            raise self.commit_error
        self.journal.append("commit")
        self.commits.append(dict(offsets))

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def lag(self) -> int | None:
        return len(self.queue)

    def set_revoke_handler(self, handler: Callable[[bool], None]) -> None:
        self.revoke = handler

    def close(self) -> None:
        self.closed = True


class FakeSink:
    def __init__(self, journal: list[str], clock: FakeClock) -> None:
        self.journal = journal
        self.clock = clock
        self.batches: list[RatingRows] = []
        self.failures_left = 0
        self.failed_at: list[float] = []

    def append(self, rows: RatingRows) -> int:
        if self.failures_left:
            self.failures_left -= 1
            self.failed_at.append(self.clock.now)
            raise RatingSourceError("ClickHouse is down")
        self.journal.append("insert")
        self.batches.append(rows)
        return len(rows)

    @property
    def event_ids(self) -> list[str]:
        return [e for batch in self.batches for e in batch.event_id.tolist()]


class FakeDeadLetters:
    def __init__(self, journal: list[str]) -> None:
        self.journal = journal
        self.sent: list[DeadLetter] = []
        self.failures_left = 0

    def send(self, letter: DeadLetter) -> None:
        letter.sent = True
        self.sent.append(letter)

    def confirm(self, letters: Sequence[DeadLetter], timeout_s: float) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise DeadLetterError("dead-letter topic unavailable")
        self.journal.append("dlq-confirmed")
        for letter in letters:
            letter.delivered = True

    def close(self) -> None:
        pass


def valid(event_id: str, offset: int, partition: int = 0, rating: float = 7.0) -> Message:
    value = {"event_id": event_id, "user_id": "alice", "film_id": FILM, "rating": rating, "timestamp": 1_700_000_000}
    return Message(topic=TOPIC, partition=partition, offset=offset, key=b"alice", value=json.dumps(value).encode())


def raw(value: bytes | None, offset: int, partition: int = 0) -> Message:
    return Message(topic=TOPIC, partition=partition, offset=offset, key=b"k", value=value)


class Rig:
    def __init__(self, **config: float) -> None:
        self.journal: list[str] = []
        self.clock = FakeClock()
        self.source = FakeSource(self.clock, self.journal)
        self.sink = FakeSink(self.journal, self.clock)
        self.dlq = FakeDeadLetters(self.journal)
        settings = {"batch_size": 3, "batch_timeout_s": 1.0, "poll_timeout_s": 0.1, "retry_initial_s": 0.5}
        settings.update(config)
        self.loader = Loader(
            self.source,
            self.sink,
            self.dlq,
            LoaderConfig(**settings),
            clock=self.clock,
            wall_clock=lambda: 42.0,
            sleep=self.clock.sleep,
        )

    def poll(self, times: int = 1) -> None:
        for _ in range(times):
            self.loader.poll_once()


def test_a_full_batch_is_inserted_then_committed() -> None:
    rig = Rig(batch_size=3)
    rig.source.queue = [valid("e1", 0), valid("e2", 1), valid("e3", 2), valid("e4", 3)]

    rig.poll()

    assert rig.sink.event_ids == ["e1", "e2", "e3"]
    assert rig.source.commits == [{(TOPIC, 0): 3}]
    assert rig.journal == ["insert", "commit"]
    assert rig.loader.pending == 0
    assert rig.loader.stats.inserted == 3
    assert rig.loader.stats.last_insert_time == 42.0
    assert rig.loader.stats.lag == 1


def test_a_partial_batch_waits_for_the_timeout() -> None:
    rig = Rig(batch_size=100, batch_timeout_s=1.0, poll_timeout_s=0.3)
    rig.source.queue = [valid("e1", 0), valid("e2", 1)]

    rig.poll(2)  # consumes, then waits 0.3 s: the batch is 0.3 s old
    assert rig.sink.batches == []
    assert rig.loader.pending == 2

    rig.poll(3)  # 0.9 s, then the last wait is cut to the remaining 0.1 s
    assert rig.sink.event_ids == ["e1", "e2"]
    assert rig.source.commits == [{(TOPIC, 0): 2}]


def test_invalid_messages_go_to_the_dead_letter_topic_confirmed_before_the_insert() -> None:
    rig = Rig(batch_size=4)
    poison = [raw(b"not json", 1), raw(b'{"event_id": "x"}', 2), raw(None, 3)]
    rig.source.queue = [valid("e1", 0), *poison]

    rig.poll()

    assert rig.sink.event_ids == ["e1"]
    sent = [(letter.offset, letter.value) for letter in rig.dlq.sent]
    assert sent == [(1, b"not json"), (2, b'{"event_id": "x"}'), (3, None)]
    reasons = [letter.reason for letter in rig.dlq.sent]
    assert "not JSON" in reasons[0]
    assert "Object missing required field `user_id`" in reasons[1]
    assert "no value" in reasons[2]
    assert rig.journal == ["dlq-confirmed", "insert", "commit"]
    assert rig.source.commits == [{(TOPIC, 0): 4}]
    assert rig.loader.stats.dead_lettered == 3
    assert rig.loader.stats.consumed == 4


POISON: list[bytes | None] = [
    None,
    b"",
    b"\xff\xfe",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"x": ' + b"[" * 1_000 + b"]" * 1_000 + b"}",
    b"x" * 1_000_000,
    b'{"event_id": "e", "user_id": "\\ud800", "film_id": "f", "rating": 5, "timestamp": 1}',
    json.dumps({"event_id": "e", "user_id": "a\u0085b", "film_id": FILM, "rating": 5, "timestamp": 1}).encode(),
    json.dumps({"event_id": "e", "user_id": "a", "film_id": FILM, "rating": 5, "timestamp": 1.5}).encode(),
    b'{"event_id": "e", "user_id": "a", "film_id": "' + FILM.encode() + b'", "rating": NaN, "timestamp": 1}',
    b"[]",
]


def test_no_message_stops_the_loop_and_every_offset_is_committed() -> None:
    rig = Rig(batch_size=len(POISON) + 2)
    rig.source.queue = [valid("first", 0)]
    rig.source.queue += [raw(value, offset) for offset, value in enumerate(POISON, start=1)]
    rig.source.queue += [valid("last", len(POISON) + 1)]

    rig.poll()

    assert rig.sink.event_ids == ["first", "last"]
    assert [letter.offset for letter in rig.dlq.sent] == list(range(1, len(POISON) + 1))
    assert all(letter.reason for letter in rig.dlq.sent)
    assert rig.source.commits == [{(TOPIC, 0): len(POISON) + 2}]


def test_huge_invalid_messages_flush_the_batch_before_it_is_full_or_old() -> None:
    rig = Rig(batch_size=1_000, batch_timeout_s=60.0)
    chunk = DEAD_LETTER_BATCH_MAX_BYTES // 3 + 1
    rig.source.queue = [valid("e1", 0), *[raw(b"x" * chunk, offset) for offset in range(1, 5)]]

    rig.poll()

    assert rig.source.commits == [{(TOPIC, 0): 5}]
    assert rig.sink.event_ids == ["e1"]
    assert rig.loader.stats.dead_lettered == 4


def test_a_decoder_that_breaks_its_promise_dead_letters_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(batch_size=2)
    decode = rig.loader._decode

    def broken(value: bytes | None) -> object:
        if value == b"boom":
            raise RecursionError("maximum recursion depth exceeded")
        return decode(value)

    monkeypatch.setattr(rig.loader, "_decode", broken)
    rig.source.queue = [raw(b"boom", 0), valid("e1", 1)]

    rig.poll()

    assert [letter.reason for letter in rig.dlq.sent] == [
        "the decoder failed: RecursionError: maximum recursion depth exceeded"
    ]
    assert rig.sink.event_ids == ["e1"]
    assert rig.source.commits == [{(TOPIC, 0): 2}]


def test_offsets_are_committed_per_partition() -> None:
    rig = Rig(batch_size=4)
    rig.source.queue = [valid("a", 10, partition=0), valid("b", 5, partition=1), valid("c", 11), valid("d", 6, 1)]

    rig.poll()

    assert rig.source.commits == [{(TOPIC, 0): 12, (TOPIC, 1): 7}]


def test_while_clickhouse_is_down_nothing_is_committed_and_retries_back_off() -> None:
    rig = Rig(batch_size=2, retry_initial_s=0.5, retry_max_s=1.5, poll_timeout_s=0.1)
    rig.sink.failures_left = 4
    rig.source.queue = [valid("e1", 0), valid("e2", 1), valid("e3", 2)]

    rig.poll()  # the flush retries until ClickHouse is back

    gaps = [round(b - a, 1) for a, b in itertools.pairwise(rig.sink.failed_at)]
    assert gaps == [0.5, 1.0, 1.5]  # doubling, capped at retry_max_s
    assert rig.source.polls_while_paused > 0  # group membership kept alive while paused
    assert rig.loader.stats.last_poll is not None and rig.loader.stats.last_poll >= rig.sink.failed_at[-1]
    assert rig.journal == ["insert", "commit"]  # nothing committed before the insert succeeded
    assert rig.sink.event_ids == ["e1", "e2"]
    assert rig.source.commits == [{(TOPIC, 0): 2}]
    assert not rig.source.paused
    assert rig.loader.stats.sink_error is None
    assert rig.loader.stats.flush_failures == 4

    rig.sink.failures_left = 1
    rig.source.queue += [valid("e4", 3)]
    rig.poll()
    assert rig.sink.event_ids == ["e1", "e2", "e3", "e4"]
    assert round(rig.clock.now - rig.sink.failed_at[-1], 1) >= 0.5  # the next outage starts from the first delay


def test_the_health_reports_the_failure_while_retrying() -> None:
    rig = Rig(batch_size=1, retry_initial_s=1.0)
    rig.sink.failures_left = 2
    seen: list[str | None] = []
    rig.source.on_paused_poll = lambda: seen.append(rig.loader.stats.sink_error)
    rig.source.queue = [valid("e1", 0)]

    rig.poll()

    assert seen and set(seen) == {"ClickHouse is down"}
    assert rig.loader.stats.sink_error is None


def test_a_failed_dead_letter_confirmation_is_retried_before_anything_is_inserted() -> None:
    rig = Rig(batch_size=2)
    rig.dlq.failures_left = 1
    rig.source.queue = [valid("e1", 0), raw(b"{}", 1)]

    rig.poll()

    assert rig.journal == ["dlq-confirmed", "insert", "commit"]
    assert rig.sink.event_ids == ["e1"]  # inserted once
    assert rig.source.commits == [{(TOPIC, 0): 2}]
    assert rig.loader.stats.dead_lettered == 1
    assert rig.loader.stats.flush_failures == 1


def test_a_refused_commit_is_counted_and_the_loader_goes_on() -> None:
    rig = Rig(batch_size=1)
    rig.source.commit_error = CommitError("rebalance in progress")
    rig.source.queue = [valid("e1", 0), valid("e2", 1)]

    rig.poll(2)

    assert rig.sink.event_ids == ["e1", "e2"]
    assert rig.loader.stats.commit_failures == 2
    assert rig.loader.stats.flush_failures == 0
    assert rig.loader.pending == 0


def test_stop_flushes_and_commits_the_pending_batch() -> None:
    rig = Rig(batch_size=100, batch_timeout_s=60.0)
    rig.source.queue = [valid("e1", 0), valid("e2", 1)]
    rig.poll()
    assert rig.sink.batches == []

    stop = threading.Event()
    stop.set()
    rig.loader.run(stop)

    assert rig.sink.event_ids == ["e1", "e2"]
    assert rig.source.commits == [{(TOPIC, 0): 2}]
    assert not rig.loader.stats.running


def test_stop_gives_up_after_the_shutdown_timeout_without_committing() -> None:
    rig = Rig(batch_size=100, batch_timeout_s=60.0, shutdown_timeout_s=5.0, retry_initial_s=1.0, retry_max_s=1.0)
    rig.sink.failures_left = 1_000
    rig.source.queue = [valid("e1", 0)]
    rig.poll()
    started = rig.clock.now

    stop = threading.Event()
    stop.set()
    rig.loader.run(stop)

    assert rig.source.commits == []
    assert 5.0 <= rig.clock.now - started <= 6.0


def test_a_stop_request_during_a_retry_ends_it_within_the_shutdown_timeout() -> None:
    rig = Rig(batch_size=1, shutdown_timeout_s=3.0, retry_initial_s=0.5, retry_max_s=30.0)
    rig.sink.failures_left = 1_000
    stop = threading.Event()
    rig.source.queue = [valid("e1", 0)]
    rig.source.on_paused_poll = stop.set
    started = rig.clock.now

    rig.loader.run(stop)

    assert rig.source.commits == []
    assert rig.sink.batches == []
    assert rig.clock.now - started <= 0.5 + 3.0 + 1.0
    assert not rig.loader.stats.running


def test_revoked_partitions_get_their_batch_committed_first() -> None:
    rig = Rig(batch_size=100, batch_timeout_s=60.0)
    rig.source.queue = [valid("e1", 0)]
    rig.poll()

    assert rig.source.revoke is not None
    rig.source.revoke(False)

    assert rig.sink.event_ids == ["e1"]
    assert rig.source.commits == [{(TOPIC, 0): 1}]
    assert rig.loader.pending == 0


def test_partitions_lost_during_a_retry_drop_the_batch_without_commit_and_resume() -> None:
    rig = Rig(batch_size=1, retry_initial_s=30.0, retry_max_s=30.0)
    rig.sink.failures_left = 1_000
    rig.source.queue = [valid("e1", 0)]

    def lose_partitions() -> None:
        assert rig.source.revoke is not None
        rig.source.revoke(True)

    rig.source.on_paused_poll = lose_partitions
    started = rig.clock.now

    rig.poll()

    assert rig.loader.pending == 0
    assert not rig.source.paused
    assert rig.source.commits == []
    assert rig.sink.batches == []
    assert rig.loader.stats.flush_failures == 1
    assert rig.clock.now - started < 30.0  # the wait ends with the revocation


def test_kafka_errors_are_counted_and_skipped_but_fatal_ones_stop_the_loader() -> None:
    rig = Rig(batch_size=2)
    broken = Message(topic=TOPIC, partition=0, offset=0, error=KafkaError(KafkaError._TRANSPORT))
    rig.source.queue = [broken, valid("e1", 0), valid("e2", 1)]

    rig.poll(2)

    assert rig.loader.stats.kafka_errors == 1
    assert rig.sink.event_ids == ["e1", "e2"]

    rig.source.queue = [Message(topic=TOPIC, partition=0, offset=2, error=KafkaError(KafkaError._FATAL, fatal=True))]
    with pytest.raises(KafkaException):
        rig.poll()


def test_rows_reach_the_sink_in_the_event_schema() -> None:
    rig = Rig(batch_size=1)
    rig.source.queue = [valid("e1", 0, rating=9.5)]

    rig.poll()

    (batch,) = rig.sink.batches
    assert batch.user_id.tolist() == ["alice"]
    assert batch.film_id.tolist() == [FILM]
    assert batch.rating.tolist() == [9.5]
    assert batch.timestamp.tolist() == [1_700_000_000]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_timeout_s": 0.0}, "batch_timeout_s"),
        ({"poll_timeout_s": -1.0}, "poll_timeout_s"),
        ({"max_message_bytes": 0}, "max_message_bytes"),
        ({"max_message_depth": 0}, "max_message_depth"),
        ({"retry_initial_s": 5.0, "retry_max_s": 1.0}, "retry_initial_s"),
        ({"batch_sise": 10}, "batch_sise"),
    ],
)
def test_loader_config_rejects_nonsense(values: dict[str, float], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LoaderConfig(**values)


def test_the_message_limits_reach_the_decoder() -> None:
    rig = Rig(batch_size=2, max_message_bytes=64, max_message_depth=2)
    rig.source.queue = [raw(b" " * 65, 0), raw(b"[[[]]]", 1)]

    rig.poll()

    reasons = [letter.reason for letter in rig.dlq.sent]
    assert "more than the limit of 64" in reasons[0]
    assert "more than the limit of 2" in reasons[1]


def test_rows_arriving_while_a_flush_is_retried_are_inserted_too() -> None:
    rig = Rig(batch_size=2)
    rig.dlq.failures_left = 1
    rig.source.queue = [valid("e1", 0), raw(b"{}", 1)]
    # A partition assigned by a rebalance during the retry is not paused and hands out a message.
    rig.source.late = [valid("e2", 0, partition=3)]

    rig.poll()

    assert rig.sink.event_ids == ["e1", "e2"]
    assert rig.source.commits == [{(TOPIC, 0): 2, (TOPIC, 3): 1}]
