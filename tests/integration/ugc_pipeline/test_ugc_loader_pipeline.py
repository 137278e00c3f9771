"""The UGC loader end to end against real parts: librdkafka's mock cluster and a real ClickHouse server.

Covers the issue's required scenarios: valid + poison messages (and the poison corpus: every class
of message a client could send, interleaved with valid events), a ClickHouse outage mid-stream, a
loader killed between insert and commit, and SIGTERM on the real ``python -m ugc_pipeline``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.adapters.kafka_publisher import KafkaRatingPublisher
from recsys_common.columns import Columns
from recsys_common.domain import RATING_REMOVED, RatingEvent
from recsys_common.events import (
    DEFAULT_MAX_EVENT_BYTES,
    DLQ_REASON_HEADER,
    DLQ_SOURCE_OFFSET_HEADER,
    DLQ_SOURCE_PARTITION_HEADER,
    DLQ_VALUE_BYTES_HEADER,
    RatingRows,
    encode_event,
)
from recsys_common.ids import film_id_for
from ugc_pipeline.kafka_io import (
    DEAD_LETTER_VALUE_MAX_BYTES,
    KafkaDeadLetterSink,
    KafkaMessageSource,
    consumer_config,
    producer_config,
)
from ugc_pipeline.loader import Loader, LoaderConfig, RowSink

if TYPE_CHECKING:
    from tests.integration.conftest import ClickHouseServer, MockKafka

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
FILMS = [film_id_for(f"ugc:{i}") for i in range(15)]
T0 = 1_700_000_000
WAIT_S = 60.0
PUBLISH_TIMEOUT_S = 10.0
STEP_S = 0.1
#: The mock cluster forgets a member that left only after its session timeout (45 s by default),
#: so a second loader in the same group would wait that long; 6 s is the broker's minimum.
MOCK_SESSION_TIMEOUT_MS = 6_000
FAST = {"batch_size": 50, "batch_timeout_s": 0.2, "poll_timeout_s": 0.1, "retry_initial_s": 0.2, "retry_max_s": 1.0}

Rating = tuple[str, str, float, int]


def make_events(count: int, first_time: int = T0, users: int = 12) -> list[RatingEvent]:
    """Events with distinct times; several ratings of many pairs, so 'latest' matters."""
    return [
        RatingEvent(
            str(uuid.uuid4()), f"user{i % users}", FILMS[(i * 7) % len(FILMS)], float(1 + i % 10), first_time + i
        )
        for i in range(count)
    ]


def latest(events: list[RatingEvent]) -> set[Rating]:
    best: dict[tuple[str, str], RatingEvent] = {}
    for event in events:
        key = (event.user_id, event.film_id)
        if key not in best or event.timestamp > best[key].timestamp:
            best[key] = event
    return {(e.user_id, e.film_id, e.rating, e.timestamp) for e in best.values()}


def stored(store: ClickHouseRatingStore) -> set[Rating]:
    frame = store.read_all()[list(Columns.RATINGS)]
    rows = {(str(u), str(f), float(r), int(t)) for u, f, r, t in frame.itertuples(index=False, name=None)}
    assert len(rows) == len(frame), "read_all returned duplicate rows"
    return rows


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting until {what}")
        time.sleep(STEP_S)


def publish(kafka: MockKafka, topic: str, events: list[RatingEvent]) -> None:
    kafka.produce(topic, [(e.user_id.encode(), encode_event(e)) for e in events])


@dataclass
class Pipeline:
    """Names of one test's topics and group, and the loaders it built (closed afterwards)."""

    kafka: MockKafka
    topic: str
    dlq_topic: str
    group: str
    closers: list[Callable[[], None]] = field(default_factory=list)

    def loader(self, sink: RowSink, **config: float) -> Loader:
        session = {"session.timeout.ms": MOCK_SESSION_TIMEOUT_MS}
        source = KafkaMessageSource(consumer_config(self.kafka.bootstrap, self.group, session), [self.topic])
        dead_letters = KafkaDeadLetterSink(producer_config(self.kafka.bootstrap), self.dlq_topic)
        self.closers += [source.close, dead_letters.close]
        return Loader(source, sink, dead_letters, LoaderConfig.model_validate({**FAST, **config}))


@pytest.fixture
def pipeline(kafka: MockKafka) -> Iterator[Pipeline]:
    created = Pipeline(kafka, kafka.new_name("ratings"), kafka.new_name("ratings.dlq"), kafka.new_name("loader"))
    yield created
    for close in reversed(created.closers):
        close()


@pytest.fixture
def store(clickhouse_url: str) -> Iterator[ClickHouseRatingStore]:
    created = ClickHouseRatingStore(clickhouse_url)
    created.ensure_schema()
    yield created
    created.close()


class LoaderThread:
    """Runs ``loader.run`` in a thread and remembers whether it ever raised."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="loader-under-test")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.loader.run(self.stop)
        except BaseException as exc:
            self.error = exc
            raise

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=WAIT_S)
        assert not self.thread.is_alive(), "loader did not stop"
        assert self.error is None, f"loader crashed: {self.error!r}"


def test_valid_events_land_once_and_poison_goes_to_the_dead_letter_topic(
    kafka: MockKafka, pipeline: Pipeline, store: ClickHouseRatingStore
) -> None:
    events = make_events(300)
    poison = [
        b"not json at all",
        b'{"event_id": "p1", "user_id": "u"}',
        json.dumps({**json.loads(encode_event(events[0])), "rating": 42}).encode(),
        json.dumps({**json.loads(encode_event(events[0])), "film_id": "no-uuid"}).encode(),
        None,
    ]
    records: list[tuple[bytes | None, bytes | None]] = [(e.user_id.encode(), encode_event(e)) for e in events[:150]]
    records += [(b"poison", value) for value in poison]
    records += [(e.user_id.encode(), encode_event(e)) for e in events[150:]]
    records += [(e.user_id.encode(), encode_event(e)) for e in events[:40]]  # redelivered duplicates
    kafka.produce(pipeline.topic, records)

    runner = LoaderThread(pipeline.loader(store))
    wait_until(
        lambda: runner.loader.stats.consumed == len(records) and runner.loader.pending == 0,
        "every message is consumed and committed",
    )
    runner.finish()

    assert stored(store) == latest(events)
    dead = kafka.read(pipeline.dlq_topic, len(poison))
    assert sorted(d.value or b"" for d in dead) == sorted(p or b"" for p in poison)
    reasons = {d.value: d.headers[DLQ_REASON_HEADER].decode() for d in dead}
    assert "not JSON" in reasons[b"not json at all"]
    assert "Expected `float` <= 10.0 - at `$.rating`" in reasons[poison[2]]
    assert "not a UUID" in reasons[poison[3]]
    assert all(DLQ_SOURCE_OFFSET_HEADER in d.headers for d in dead)
    assert runner.loader.stats.dead_lettered == len(poison)
    assert kafka.committed(pipeline.topic, pipeline.group) == kafka.end_offsets(pipeline.topic)


@dataclass(frozen=True)
class Poison:
    """One message of the corpus that must end in the dead-letter topic, with part of its reason."""

    kind: str
    value: bytes | None
    reason: str


#: Placeholder for a JSON text spliced into a message verbatim.
RAW = "@@raw@@"
#: A message bigger than the producer's default limit and than what a dead letter carries.
HUGE_BYTES = 1_500_000
PRODUCER_MAX_MESSAGE_BYTES = 2_000_000
WIRE_FIELDS = ("event_id", "user_id", "film_id", "rating", "timestamp")


def spoil(document: dict[str, object], raw: bytes = b"", **changes: object) -> bytes:
    """``document`` with ``changes`` (``...`` drops a field) as JSON; ``raw`` replaces a ``RAW`` string."""
    changed = {k: v for k, v in {**document, **changes}.items() if v is not ...}
    return json.dumps(changed).encode().replace(f'"{RAW}"'.encode(), raw)


def poison_corpus(good: dict[str, object]) -> list[Poison]:
    """Every class of bad message a client could send, each spoiling the valid document ``good``."""
    film = str(good["film_id"])
    corpus = [
        Poison("malformed JSON", b"not json at all", "not JSON"),
        Poison("malformed JSON", b'{"event_id": "e"', "not JSON"),
        Poison("malformed JSON", spoil(good)[:-1], "not JSON"),
        Poison("malformed JSON", spoil(good) + b"}", "trailing characters"),
        Poison("malformed JSON", b'{"a": 1,}', "not JSON"),
        Poison("malformed JSON", spoil(good, user_id=RAW, raw=b'"a\x01b"'), "not JSON"),  # raw control byte
        Poison("malformed JSON", b"\xef\xbb\xbf" + spoil(good), "not JSON"),  # byte order mark
        Poison("empty message", b"", "not JSON"),
        Poison("no value", None, "message has no value"),
        Poison("invalid UTF-8", b"\xff\xfe\xfd", "not UTF-8"),
        Poison("invalid UTF-8", spoil(good, user_id=RAW, raw=b'"\xc3\x28"'), "not UTF-8"),
        Poison("invalid UTF-8", spoil(good, user_id=RAW, raw=b'"\xed\xa0\x80"'), "not UTF-8"),  # encoded surrogate
        Poison("invalid UTF-8", spoil(good, note=RAW, raw=b'"\x80"'), "not UTF-8"),  # in an ignored field
        Poison("deep nesting", b"[" * 100_000 + b"]" * 100_000, "more than the limit"),  # the reviewer's message
        Poison("deep nesting", spoil(good, note=RAW, raw=b"[" * 10_000 + b"]" * 10_000), "levels deep"),
        Poison("deep nesting", b'{"x": ' + b'{"y": ' * 5_000, "levels deep"),
        Poison("huge message", spoil(good, padding="x" * (4 * DEFAULT_MAX_EVENT_BYTES)), "bytes, more than the limit"),
        Poison("huge message", b"y" * HUGE_BYTES, "bytes, more than the limit"),
        Poison("wrong type", spoil(good, rating="7"), "Expected `float`, got `str`"),
        Poison("wrong type", spoil(good, rating=True), "Expected `float`, got `bool`"),
        Poison("wrong type", spoil(good, rating=None), "Expected `float`, got `null`"),
        Poison("wrong type", spoil(good, timestamp=1.5), "Expected `int`, got `float`"),
        Poison("wrong type", spoil(good, timestamp="1700000000"), "Expected `int`, got `str`"),
        Poison("wrong type", spoil(good, event_id=7), "Expected `str`, got `int`"),
        Poison("wrong type", spoil(good, user_id=None), "Expected `str`, got `null`"),
        Poison("wrong type", spoil(good, film_id=[film]), "Expected `str`, got `array`"),
        Poison("out-of-range score", spoil(good, rating=0.5), "rating must be within 1..10, or 0 to remove one"),
        Poison("out-of-range score", spoil(good, rating=10.5), "Expected `float` <= 10.0"),
        Poison("out-of-range score", spoil(good, rating=-3), "Expected `float` >= 0.0"),
        Poison("out-of-range timestamp", spoil(good, timestamp=-1), "Expected `int` >= 0"),
        Poison("out-of-range timestamp", spoil(good, timestamp=2**32), "Expected `int` <= 4294967295"),
        Poison("non-finite score", spoil(good, rating=float("nan")), "not JSON"),
        Poison("non-finite score", spoil(good, rating=float("inf")), "not JSON"),
        Poison("non-finite score", spoil(good, rating=float("-inf")), "not JSON"),
        Poison("non-finite score", spoil(good, rating=RAW, raw=b"1e400"), "Number out of range"),
        Poison("bad identifier", spoil(good, event_id=""), "event id must not be empty"),
        Poison("bad identifier", spoil(good, user_id="u" * 129), "user id must be at most 128 characters"),
        Poison("bad identifier", spoil(good, film_id="no-uuid"), "is not a UUID"),
        Poison("bad identifier", spoil(good, user_id="a/b"), "user id must not contain '/'"),
        Poison("control character", spoil(good, event_id="a\x00b"), "event id must not contain control characters"),
        Poison("control character", spoil(good, user_id="a\nb"), "user id must not contain control characters"),
        Poison("control character", spoil(good, user_id="a\x85b"), "user id must not contain control characters"),
        Poison("control character", spoil(good, film_id=film[:8] + "\x07" + film[9:]), "is not a UUID"),
        Poison("repeated key", spoil(good).replace(b'"timestamp": ', b'"timestamp": 1, "timestamp": -'), ">= 0"),
        Poison("repeated key", spoil(good).replace(b'"rating": ', b'"rating": "x", "rating": '), "got `str`"),
        Poison("missing field", b"{}", "Object missing required field `event_id`"),
        Poison("non-object JSON", b"[1, 2]", "Expected `object`, got `array`"),
        Poison("non-object JSON", b'"a string"', "Expected `object`, got `str`"),
        Poison("non-object JSON", b"42", "Expected `object`, got `int`"),
        Poison("non-object JSON", b"null", "Expected `object`, got `null`"),
        Poison("non-object JSON", b"true", "Expected `object`, got `bool`"),
    ]
    # Lone surrogates, escaped as Python's json.dumps writes them, in every string field.
    for name in ("event_id", "user_id", "film_id", "note"):
        corpus.append(Poison("lone surrogate", spoil({**good, name: "a\ud800b"}), "not JSON"))
    for name in WIRE_FIELDS:
        without = {k: v for k, v in good.items() if k != name}
        corpus.append(Poison("missing field", spoil(without), f"missing required field `{name}`"))
    return corpus


def odd_but_valid(events: list[RatingEvent]) -> list[tuple[RatingEvent, bytes]]:
    """Valid events in unusual spellings: the loader must store them like any other."""
    spellings: list[Callable[[RatingEvent], bytes]] = [
        lambda e: spoil(wire_document(e), film_id=e.film_id.upper(), source="web", extra={"a": [1, {"b": None}]}),
        lambda e: b"  \n" + encode_event(e) + b"\t ",
        lambda e: spoil(wire_document(e)).replace(b'"rating": ', b'"rating": 1, "rating": '),  # the last counts
        lambda e: spoil(wire_document(e), note="brackets [[[{{{ in a string"),
    ]
    return [(event, spell(event)) for event, spell in zip(events, spellings, strict=False)]


def wire_document(event: RatingEvent) -> dict[str, object]:
    document: dict[str, object] = json.loads(encode_event(event))
    return document


def stored_events(store: ClickHouseRatingStore) -> list[tuple[str, str, str, float, int]]:
    rows = store._execute("SELECT event_id, user_id, film_id, rating, toInt64(event_time) FROM ratings FINAL")
    return [(str(e), str(u), str(f), float(r), int(t)) for e, u, f, r, t in rows]


def test_the_poison_corpus_is_dead_lettered_and_every_valid_event_lands_once(
    kafka: MockKafka, pipeline: Pipeline, store: ClickHouseRatingStore
) -> None:
    # Each valid event rates its own (user, film) pair, so FINAL keeps exactly one row per event.
    users = ["alice", "rt-critic:Zoë & Ann", "ml100k:1", "a?b#c%d", "日本 🎬", "  padded  "]
    valid = [
        RatingEvent(str(uuid.uuid4()), f"{users[i % len(users)]}-{i}", FILMS[i % len(FILMS)], 1 + i % 10, T0 + i)
        for i in range(240)
    ]
    corpus = poison_corpus(wire_document(valid[0]))
    odd = odd_but_valid(valid[-4:])
    odd_values = {id(event): value for event, value in odd}
    records: list[tuple[bytes | None, bytes | None]] = [
        (e.user_id.encode(), odd_values.get(id(e), encode_event(e))) for e in valid
    ]
    records += [(e.user_id.encode(), encode_event(e)) for e in valid[:40]]  # redelivered duplicates
    records += [(f"poison:{i}".encode(), p.value) for i, p in enumerate(corpus)]
    random.Random(7).shuffle(records)
    kafka.produce(pipeline.topic, records, max_message_bytes=PRODUCER_MAX_MESSAGE_BYTES)

    runner = LoaderThread(pipeline.loader(store))
    wait_until(
        lambda: runner.loader.stats.consumed == len(records) and runner.loader.pending == 0,
        "every message is consumed and committed",
    )
    assert runner.thread.is_alive() and runner.loader.stats.running, "the loader stopped"
    assert runner.loader.stats.health()[0], runner.loader.stats.health()[1]
    runner.finish()

    canonical = [(e.event_id, e.user_id, e.film_id, float(e.rating), e.timestamp) for e in valid]
    assert sorted(stored_events(store)) == sorted(canonical)  # each valid event exactly once
    dead = kafka.read(pipeline.dlq_topic, len(corpus))
    assert len(dead) == len(corpus)
    by_key = {d.key: d for d in dead}
    assert set(by_key) == {f"poison:{i}".encode() for i in range(len(corpus))}
    for i, poison in enumerate(corpus):
        letter = by_key[f"poison:{i}".encode()]
        reason = letter.headers[DLQ_REASON_HEADER].decode()
        assert poison.reason in reason, (poison.kind, reason)
        assert DLQ_SOURCE_PARTITION_HEADER in letter.headers and DLQ_SOURCE_OFFSET_HEADER in letter.headers
        if poison.value is not None and len(poison.value) > DEAD_LETTER_VALUE_MAX_BYTES:
            assert letter.value == poison.value[:DEAD_LETTER_VALUE_MAX_BYTES]
            assert letter.headers[DLQ_VALUE_BYTES_HEADER] == str(len(poison.value)).encode()
        else:
            assert letter.value == poison.value
    stats = runner.loader.stats
    assert (stats.dead_lettered, stats.consumed) == (len(corpus), len(records))
    assert kafka.committed(pipeline.topic, pipeline.group) == kafka.end_offsets(pipeline.topic)
    by_kind = Counter(p.kind for p in corpus)
    print(f"\npoison corpus: {len(valid)} valid events landed once, {len(corpus)} dead-lettered: {dict(by_kind)}")


@pytest.mark.slow  # 5-10 s: an outage, a killed process, a process run to SIGTERM
def test_a_clickhouse_outage_loses_nothing_and_the_loader_never_crashes(
    kafka: MockKafka, pipeline: Pipeline, clickhouse_server_factory: Callable[[], ClickHouseServer]
) -> None:
    server = clickhouse_server_factory()
    store = ClickHouseRatingStore(server.url("outage"), connect_timeout_s=1)
    store.ensure_schema()
    before, during = make_events(200), make_events(200, first_time=T0 + 10_000)
    publish(kafka, pipeline.topic, before)
    runner = LoaderThread(pipeline.loader(store))
    wait_until(lambda: runner.loader.stats.inserted >= len(before), "the first events are inserted")

    server.stop(kill=True)
    publisher = KafkaRatingPublisher(kafka.bootstrap, topic=pipeline.topic)  # what the Movies API uses
    for event in during:
        publisher.publish(event, PUBLISH_TIMEOUT_S)
    publisher.close()
    wait_until(lambda: runner.loader.stats.flush_failures >= 2, "the loader has retried a few times")
    assert runner.thread.is_alive()
    assert runner.loader.stats.sink_error is not None
    assert runner.loader.stats.health()[0] is False
    stuck = runner.loader.stats.commits

    server.start()
    wait_until(
        lambda: runner.loader.stats.consumed == len(before) + len(during) and runner.loader.pending == 0,
        "everything is inserted and committed after the restart",
    )
    runner.finish()

    assert runner.loader.stats.commits > stuck
    assert stored(store) == latest(before + during)
    assert kafka.committed(pipeline.topic, pipeline.group) == kafka.end_offsets(pipeline.topic)
    store.close()


class SimulatedCrash(BaseException):
    """The process dies right after ClickHouse acknowledged the insert, before the commit."""


@dataclass
class CrashAfterInsert:
    store: ClickHouseRatingStore

    def append(self, rows: RatingRows) -> int:
        self.store.append(rows)
        raise SimulatedCrash


def poll_until_it_dies(loader: Loader) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        loader.poll_once()


@pytest.mark.slow  # 5-10 s: an outage, a killed process, a process run to SIGTERM
def test_a_loader_killed_between_insert_and_commit_causes_no_duplicate(
    kafka: MockKafka, pipeline: Pipeline, store: ClickHouseRatingStore
) -> None:
    events = make_events(120)
    publish(kafka, pipeline.topic, events)

    doomed = pipeline.loader(CrashAfterInsert(store), batch_size=len(events), batch_timeout_s=30.0)
    with pytest.raises(SimulatedCrash):
        poll_until_it_dies(doomed)
    pipeline.closers.pop(0)()  # the dead process's consumer leaves without committing
    assert stored(store) == latest(events)
    assert kafka.committed(pipeline.topic, pipeline.group) != kafka.end_offsets(pipeline.topic)

    runner = LoaderThread(pipeline.loader(store))
    wait_until(lambda: runner.loader.stats.inserted == len(events) and runner.loader.pending == 0, "redelivery")
    runner.finish()

    assert stored(store) == latest(events)  # the redelivered copy changed nothing
    assert kafka.committed(pipeline.topic, pipeline.group) == kafka.end_offsets(pipeline.topic)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


@pytest.mark.slow  # 5-10 s: an outage, a killed process, a process run to SIGTERM
def test_the_loader_process_serves_health_and_flushes_on_sigterm(
    kafka: MockKafka, pipeline: Pipeline, clickhouse_url: str, tmp_path: Path
) -> None:
    events = make_events(80)
    publish(kafka, pipeline.topic, events)
    port = free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("RECSYS_")}
    environment.update(
        RECSYS_DATA_DIR=str(tmp_path),
        RECSYS_KAFKA_BOOTSTRAP=kafka.bootstrap,
        RECSYS_CLICKHOUSE_URL=clickhouse_url,
        RECSYS_UGC_TOPIC=pipeline.topic,
        RECSYS_UGC_DLQ_TOPIC=pipeline.dlq_topic,
        RECSYS_UGC_GROUP_ID=pipeline.group,
        RECSYS_UGC_LOADER__BATCH_SIZE="100000",  # nothing is flushed before SIGTERM
        RECSYS_UGC_LOADER__BATCH_TIMEOUT_S="600",
        RECSYS_UGC_METRICS_PORT=str(port),
    )
    log = (tmp_path / "loader.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ugc_pipeline"], env=environment, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_get(f"{base}/health")[0] == 200, "/health answers 200")
        wait_until(lambda: f"ugc_consumed_total {float(len(events))}" in http_get(f"{base}/metrics")[1], "consumed")
        store = ClickHouseRatingStore(clickhouse_url)
        assert store.read_all().empty  # consumed, still in the pending batch
        status, body = http_get(f"{base}/health")
        assert status == 200
        assert json.loads(body)["consumed"] == len(events)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()

    assert stored(store) == latest(events), (tmp_path / "loader.log").read_text()
    assert kafka.committed(pipeline.topic, pipeline.group) == kafka.end_offsets(pipeline.topic)
    store.close()


def test_a_removal_published_to_kafka_reaches_clickhouse_and_hides_the_rating(
    kafka: MockKafka, pipeline: Pipeline, store: ClickHouseRatingStore
) -> None:
    rated = [RatingEvent(str(uuid.uuid4()), "viewer", FILMS[i], 9.0, T0 + i) for i in range(3)]
    removal = RatingEvent(str(uuid.uuid4()), "viewer", FILMS[1], RATING_REMOVED, T0 + 10)
    publisher = KafkaRatingPublisher(kafka.bootstrap, topic=pipeline.topic)  # the Movies API's path
    try:
        publisher.publish_many([*rated, removal], PUBLISH_TIMEOUT_S)
    finally:
        publisher.close()
    runner = LoaderThread(pipeline.loader(store))
    wait_until(lambda: runner.loader.stats.consumed == len(rated) + 1, "every event is consumed")
    wait_until(lambda: runner.loader.pending == 0, "every event is written")
    runner.finish()
    assert runner.loader.stats.dead_lettered == 0
    assert set(store.read_user("viewer")[Columns.Item]) == {FILMS[0], FILMS[2]}
    assert stored(store) == {("viewer", FILMS[i], 9.0, T0 + i) for i in (0, 2)}
    assert (removal.film_id, RATING_REMOVED) in set(
        zip(store.read_since(0)[Columns.Item], store.read_since(0)[Columns.Rating], strict=True)
    )
