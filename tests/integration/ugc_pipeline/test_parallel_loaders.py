"""Parallel loaders: two ``python -m ugc_pipeline`` processes in one consumer group share a topic's
partitions and write into the two-shard ClickHouse cluster; one is SIGKILLed mid-stream and started
again. At-least-once delivery (commit after insert) + the idempotent table = every event stored once.
"""

from __future__ import annotations

import os
import re
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
from confluent_kafka import Message, Producer

from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.domain import RatingEvent
from recsys_common.events import DLQ_SOURCE_OFFSET_HEADER, DLQ_SOURCE_PARTITION_HEADER, encode_event
from recsys_common.ids import film_id_for

if TYPE_CHECKING:
    from tests.integration.conftest import ClickHouseCluster, MockKafka

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
FILMS = [film_id_for(f"parallel:{i}") for i in range(20)]
T0 = 1_700_000_000
EVENTS = 3_000
CHUNKS = 30
CHUNK_PAUSE_S = 0.1
#: Loader 1 is killed once it consumed this many messages (the stream's first half gives it ~750).
KILL_AFTER = 500
POISON_EVERY = 500
WAIT_S = 90.0
STEP_S = 0.2
#: The least session timeout of the mock broker: a killed loader's partitions move after 6 s.
SESSION_TIMEOUT_MS = 6_000
_CONSUMED = re.compile(r"^ugc_consumed_total ([0-9.e+]+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:g} s waiting until {what}")
        time.sleep(STEP_S)


@dataclass
class LoaderProcess:
    """One ``python -m ugc_pipeline`` process, as compose runs it (a replica of the loader service)."""

    name: str
    environment: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ugc_pipeline"],
                env={**self.environment, "RECSYS_UGC_METRICS_PORT": str(self.port)},
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def consumed(self) -> int:
        """Messages this process consumed so far (its ``/metrics``); 0 before it serves them."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as response:
                found = _CONSUMED.search(response.read().decode())
        except (urllib.error.URLError, OSError):
            return 0
        return int(float(found.group(1))) if found else 0

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        process, self.process = self.process, None
        if process is None:
            return 0
        process.send_signal(sig)
        try:
            return process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()


def make_events(count: int) -> list[RatingEvent]:
    """Each event rates a pair of its own, so the table keeps exactly one row per event id."""
    return [
        RatingEvent(str(uuid.uuid4()), f"viewer{i}", FILMS[i % len(FILMS)], float(1 + i % 10), T0 + i)
        for i in range(count)
    ]


@pytest.fixture
def loaders(
    kafka: MockKafka, clickhouse_cluster: ClickHouseCluster, clickhouse_cluster_database: str, tmp_path: Path
) -> Iterator[tuple[str, str, str, list[LoaderProcess]]]:
    """Two loader processes of one group, each entering the cluster through a different server."""
    topic, dlq, group = kafka.new_name("ratings"), kafka.new_name("ratings.dlq"), kafka.new_name("loaders")
    base = {name: value for name, value in os.environ.items() if not name.startswith("RECSYS_")}
    base.update(
        RECSYS_DATA_DIR=str(tmp_path),
        RECSYS_LOG_FORMAT="text",
        RECSYS_KAFKA_BOOTSTRAP=kafka.bootstrap,
        RECSYS_CLICKHOUSE_CLUSTER=clickhouse_cluster.name,
        RECSYS_UGC_TOPIC=topic,
        RECSYS_UGC_DLQ_TOPIC=dlq,
        RECSYS_UGC_GROUP_ID=group,
        RECSYS_UGC_SESSION_TIMEOUT_MS=str(SESSION_TIMEOUT_MS),
        RECSYS_UGC_LOADER__BATCH_SIZE="200",
        RECSYS_UGC_LOADER__BATCH_TIMEOUT_S="0.5",
        RECSYS_UGC_LOADER__POLL_TIMEOUT_S="0.1",
    )
    processes = [
        LoaderProcess(
            f"loader{i}",
            {**base, "RECSYS_CLICKHOUSE_URL": server.url(clickhouse_cluster_database)},
            tmp_path / f"loader{i}.log",
        )
        for i, server in enumerate(clickhouse_cluster.servers)
    ]
    yield topic, dlq, group, processes
    for loader in processes:
        loader.stop(signal.SIGKILL)


@pytest.mark.slow  # ~20 s: two group joins, a session timeout after the kill, a rejoin
def test_two_loaders_share_the_partitions_and_store_every_event_once_across_a_kill(
    kafka: MockKafka,
    clickhouse_cluster: ClickHouseCluster,
    clickhouse_cluster_database: str,
    loaders: tuple[str, str, str, list[LoaderProcess]],
) -> None:
    topic, dlq, group, (first, second) = loaders
    events = make_events(EVENTS)
    records: list[tuple[bytes | None, bytes | None]] = [(e.user_id.encode(), encode_event(e)) for e in events]
    for index in range(0, EVENTS, POISON_EVERY):  # a few messages for the dead-letter topic
        records.insert(index, (b"poison", b'{"not": "an event"}'))
    kafka.produce(topic, records[:100])  # creates the topic (the mock broker makes 4 partitions)
    assert len(kafka.partitions(topic)) >= 2
    for loader in (first, second):
        loader.start()
    store = ClickHouseRatingStore(clickhouse_cluster.url(clickhouse_cluster_database), cluster=clickhouse_cluster.name)

    produced, killed = threading.Event(), threading.Event()
    failures: list[str] = []

    def stream() -> None:
        """The rest of the records in chunks, one producer (a steady stream of viewers' ratings); half
        way, it waits until loader 1 was killed, so the kill is always mid-stream."""
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True, "linger.ms": 5})

        def report(error: object, message: Message) -> None:
            if error is not None:
                failures.append(str(error))

        rest = records[100:]
        size = -(-len(rest) // CHUNKS)
        for start in range(0, len(rest), size):
            if start >= len(rest) // 2 and not killed.is_set() and not killed.wait(WAIT_S):
                failures.append("loader 1 was not killed half way")
                break
            for key, value in rest[start : start + size]:
                producer.produce(topic, value=value, key=key, on_delivery=report)
            producer.poll(0)
            time.sleep(CHUNK_PAUSE_S)
        if producer.flush(WAIT_S):
            failures.append("messages left unsent")
        produced.set()

    wait_until(lambda: first.consumed() > 0 and second.consumed() > 0, "both loaders consume (partitions shared)")
    producer = threading.Thread(target=stream, name="producer", daemon=True)
    producer.start()
    wait_until(lambda: first.consumed() >= KILL_AFTER, f"loader 1 consumed {KILL_AFTER} messages")
    killed_after = first.consumed()
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    killed.set()
    first.start()  # the replacement rejoins the group (a rebalance)
    producer.join(WAIT_S)
    assert produced.is_set() and not failures, failures

    def all_stored() -> bool:
        ((count,),) = store._execute("SELECT count() FROM ratings FINAL")
        return int(count) >= EVENTS

    wait_until(all_stored, f"{EVENTS} events are in ClickHouse")
    wait_until(lambda: kafka.committed(topic, group) == kafka.end_offsets(topic), "the group committed everything")

    rows = store._execute("SELECT event_id, user_id, film_id, rating, toInt64(event_time) FROM ratings FINAL")
    per_event = Counter(str(row[0]) for row in rows)
    assert set(per_event) == {e.event_id for e in events}
    assert max(per_event.values()) == 1  # exactly once
    assert {(str(e), str(u), str(f), float(r), int(t)) for e, u, f, r, t in rows} == {
        (e.event_id, e.user_id, e.film_id, e.rating, e.timestamp) for e in events
    }
    poison = len(records) - EVENTS
    letters = kafka.read(dlq, sum(kafka.end_offsets(dlq).values()))  # all of them, copies included
    sources = {(r.headers[DLQ_SOURCE_PARTITION_HEADER], r.headers[DLQ_SOURCE_OFFSET_HEADER]) for r in letters}
    assert len(sources) == poison  # every poison message dead-lettered (at least once)
    ((stored_copies,),) = store._execute("SELECT count() FROM ratings")
    print(
        f"\nloader 1 consumed {killed_after} before SIGKILL; after the restart loader 1 / loader 2 consumed "
        f"{first.consumed()} / {second.consumed()}; {stored_copies} rows stored for {EVENTS} events"
    )
    store.close()
