"""Benchmark of the rating path: producer -> Kafka -> UGC loader -> ClickHouse, and reading 5M ratings.

    python benchmarks/bench_ugc_pipeline.py                      # private ClickHouse + mock Kafka
    python benchmarks/bench_ugc_pipeline.py --events 500000 --read-rows 5000000 \\
        --output benchmarks/results/ugc_pipeline.json

Without ``--clickhouse-url`` it starts a private ``clickhouse-server`` (Debian package or a
``clickhouse`` binary on PATH) in a temporary directory; without ``--kafka-bootstrap`` it uses
librdkafka's in-process mock cluster. Measured:

1. end to end: a producer process sends N pre-encoded rating events while the loader (this process,
   the real ``Loader`` with its Kafka source, dead-letter producer and ``ClickHouseRatingStore``)
   validates, inserts and commits them; time from the first produce to the last commit. The loader
   joins its consumer group before the clock starts (the mock cluster's first rebalance takes ~3 s).
2. loader drain: min(N, 200k) events already in the topic (the mock broker keeps ~5 MB per
   partition); time from the first consumed message to the last commit (the loader's capacity
   without a concurrent producer).
3. read: ``ClickHouseRatingStore.read_all()`` of a table holding R ratings (R distinct pairs,
   generated server-side, several unmerged parts), best and median of a few runs.
4. codec: the loader's decoder over 100k encoded events, and in the same run the standard library's
   ``json.loads`` over the same bytes: a reference that moves with the machine's load but not with
   the codec, so runs on a busy machine stay comparable (``decode_vs_json_loads``).
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import clickhouse_driver
import confluent_kafka
import numpy as np
import typer
from confluent_kafka import Producer

from recsys_common.adapters.clickhouse_ratings import TABLE, ClickHouseRatingStore
from recsys_common.domain import RatingEvent
from recsys_common.events import EventDecoder, encode_event
from recsys_common.ids import film_id_for
from recsys_common.machine import machine_info
from ugc_pipeline.kafka_io import KafkaDeadLetterSink, KafkaMessageSource, consumer_config, producer_config
from ugc_pipeline.loader import Loader, LoaderConfig

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "ugc_pipeline.json"
TARGET_EVENTS_PER_S = 100_000
USERS = 100_000
FILMS = 20_000
T0 = 1_600_000_000
READ_REPEATS = 3
READ_INSERT_CHUNK = 1_000_000
#: Coprime with FILMS, so a user's films are spread over the catalogue.
FILM_STRIDE = 397
WAIT_S = 600.0
POLL_S = 0.05
SERVER_START_S = 30.0
PRODUCER_QUEUE_MESSAGES = 1_000_000
#: The mock cluster keeps a departed member until its session times out; keep that short.
SESSION_TIMEOUT_MS = 6_000
#: Events the producer may have sent beyond what the loader stored (see ``_produce``).
MAX_IN_FLIGHT = 150_000
BACKPRESSURE_CHECK_EVERY = 1_000
#: A pre-filled topic must fit the mock broker's ~5 MB per partition (lz4-compressed).
DRAIN_MAX_EVENTS = 200_000
STALL_S = 30.0
CODEC_EVENTS = 100_000
CODEC_REPEATS = 3

_CLICKHOUSE_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>{root}/server.log</log><errorlog>{root}/error.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp}</tcp_port>
    <http_port>{http}</http_port>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <users_config>{root}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>1073741824</mark_cache_size>
</yandex>
"""
_CLICKHOUSE_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default/></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
        <profile>default</profile><quota>default</quota></default></users>
    <quotas><default/></quotas>
</yandex>
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_clickhouse() -> Iterator[str]:
    """Start clickhouse-server in a temporary directory; yield the URL of database ``bench``."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
    server = shutil.which("clickhouse-server", path=search)
    command = [server] if server else None
    if command is None and (single := shutil.which("clickhouse", path=search)):
        command = [single, "server"]
    if command is None:
        raise SystemExit("no clickhouse-server found: install it or pass --clickhouse-url")
    with tempfile.TemporaryDirectory(prefix="bench-clickhouse-") as tmp:
        root = Path(tmp)
        tcp, http = _free_port(), _free_port()
        (root / "users.xml").write_text(_CLICKHOUSE_USERS)
        (root / "config.xml").write_text(_CLICKHOUSE_CONFIG.format(root=root, tcp=tcp, http=http))
        log = (root / "stdout.log").open("wb")
        process = subprocess.Popen(
            [*command, f"--config-file={root / 'config.xml'}"], stdout=log, stderr=subprocess.STDOUT, cwd=root
        )
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{http}/ping", timeout=1):
                        break
                except (urllib.error.URLError, OSError):
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(f"clickhouse-server did not start; see {root}") from None
                    time.sleep(POLL_S)
            yield f"clickhouse://default:@127.0.0.1:{tcp}/bench"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            log.close()


@contextmanager
def kafka_cluster(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    owner = Producer({"test.mock.num.brokers": 1, "log_level": 3})
    yield owner.list_topics(timeout=10).orig_broker_name.split("/")[0]
    del owner


def make_payloads(count: int, seed: int) -> list[tuple[bytes, bytes]]:
    rng = np.random.default_rng(seed)
    films = [film_id_for(f"bench:{i}") for i in range(FILMS)]
    users = rng.integers(0, USERS, count).tolist()
    items = rng.integers(0, FILMS, count).tolist()
    ratings = rng.integers(1, 11, count).tolist()
    payloads = []
    for i in range(count):
        user = f"user{users[i]}"
        event = RatingEvent(str(uuid.uuid4()), user, films[items[i]], float(ratings[i]), T0 + i)
        payloads.append((user.encode(), encode_event(event)))
    return payloads


def _produce(bootstrap: str, topic: str, count: int, seed: int, ready: Any, start: Any, done: Any, stored: Any) -> None:
    """Producer process: encode first, then wait for the start signal and send everything.

    It holds back while more than ``MAX_IN_FLIGHT`` events are produced but not yet stored by the
    loader (``stored``), because the mock broker keeps only ~5 MB per partition and would drop the
    oldest unread messages; a real broker would simply buffer them.
    """
    payloads = make_payloads(count, seed)
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": PRODUCER_QUEUE_MESSAGES,
        }
    )
    producer.list_topics(topic, timeout=WAIT_S)  # connected, topic known
    ready.set()
    start.wait()
    begun = time.perf_counter()
    for sent, (key, value) in enumerate(payloads):
        if sent % BACKPRESSURE_CHECK_EVERY == 0:
            while sent - stored.value > MAX_IN_FLIGHT:
                producer.poll(POLL_S / 10)
        while True:
            try:
                producer.produce(topic, value=value, key=key)
                break
            except BufferError:
                producer.poll(POLL_S)
    producer.flush(WAIT_S)
    done.put(time.perf_counter() - begun)


class LoaderRun:
    """The real loader in a thread of this process."""

    def __init__(self, bootstrap: str, url: str, topic: str, batch_size: int) -> None:
        session = {"session.timeout.ms": SESSION_TIMEOUT_MS, "queued.max.messages.kbytes": 262_144}
        self.source = KafkaMessageSource(consumer_config(bootstrap, f"bench-{uuid.uuid4().hex[:8]}", session), [topic])
        self.dlq = KafkaDeadLetterSink(producer_config(bootstrap), f"{topic}.dlq")
        self.store = ClickHouseRatingStore(url)
        config = LoaderConfig(batch_size=batch_size, batch_timeout_s=1.0, poll_timeout_s=0.2)
        self.loader = Loader(self.source, self.store, self.dlq, config)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loader.run, args=(self.stop,))
        self.thread.start()

    def wait_for(self, inserted: int, stored: Any = None) -> float:
        """Wait until ``inserted`` rows are stored and committed; publish progress to ``stored``."""
        stats = self.loader.stats
        last_change, last_consumed = time.monotonic(), -1
        while stats.inserted < inserted or self.loader.pending:
            if stored is not None:
                stored.value = stats.inserted
            if stats.consumed != last_consumed:
                last_change, last_consumed = time.monotonic(), stats.consumed
            elif time.monotonic() - last_change > STALL_S:
                raise SystemExit(f"loader stalled at {stats.inserted} of {inserted} (messages lost?): {stats}")
            time.sleep(POLL_S / 10)
        return time.perf_counter()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.source.close()
        self.dlq.close()
        self.store.close()


def bench_end_to_end(bootstrap: str, url: str, events: int, batch_size: int) -> dict[str, Any]:
    topic = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    Producer({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)  # create the topic
    context = mp.get_context("spawn")
    ready, start, done, stored = context.Event(), context.Event(), context.Queue(), context.Value("q", 0)
    producer = context.Process(target=_produce, args=(bootstrap, topic, events, 1, ready, start, done, stored))
    producer.start()
    run = LoaderRun(bootstrap, url, topic, batch_size)
    while not (run.source.assigned() and ready.is_set()):
        time.sleep(POLL_S)
    begun = time.perf_counter()
    start.set()
    finished = run.wait_for(events, stored)
    produce_s = float(done.get(timeout=WAIT_S))
    producer.join()
    run.close()
    seconds = finished - begun
    return {
        "events": events,
        "seconds": round(seconds, 3),
        "events_per_s": round(events / seconds),
        "producer_seconds": round(produce_s, 3),
        "producer_events_per_s": round(events / produce_s),
        "loader_batch_size": batch_size,
        "producer_max_in_flight": MAX_IN_FLIGHT,
    }


def bench_drain(bootstrap: str, url: str, events: int, batch_size: int) -> dict[str, Any]:
    topic = f"bench-drain-{uuid.uuid4().hex[:8]}"
    context = mp.get_context("spawn")
    ready, start, done, unlimited = context.Event(), context.Event(), context.Queue(), context.Value("q", events)
    start.set()
    producer = context.Process(target=_produce, args=(bootstrap, topic, events, 2, ready, start, done, unlimited))
    producer.start()
    done.get(timeout=WAIT_S)
    producer.join()
    run = LoaderRun(bootstrap, url, topic, batch_size)
    while run.loader.stats.consumed == 0:
        time.sleep(POLL_S / 10)
    begun = time.perf_counter()
    finished = run.wait_for(events)
    run.close()
    seconds = finished - begun
    return {"events": events, "seconds": round(seconds, 3), "events_per_s": round(events / seconds)}


def bench_read(url: str, rows: int) -> dict[str, Any]:
    store = ClickHouseRatingStore(url.rsplit("/", 1)[0] + "/bench_read")
    store.ensure_schema()
    store._execute(f"TRUNCATE TABLE {TABLE}")
    # Row n: user n % USERS rates film (n // USERS * FILM_STRIDE + user) % FILMS: distinct pairs,
    # every film used; film ids are UUID-shaped strings made from the film number.
    film_number = f"(intDiv(n, {USERS}) * {FILM_STRIDE} + n % {USERS}) % {FILMS}"
    film = (
        f"replaceRegexpOne(lower(hex(MD5(toString({film_number})))), "
        "'^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\\\\1-\\\\2-\\\\3-\\\\4-\\\\5')"
    )
    began = time.perf_counter()
    for start in range(0, rows, READ_INSERT_CHUNK):  # several inserts: several unmerged parts
        count = min(READ_INSERT_CHUNK, rows - start)
        store._execute(
            f"INSERT INTO {TABLE} (event_id, user_id, film_id, rating, event_time, ingest_seq) "
            f"SELECT toString(n), concat('user', toString(n % {USERS})), {film}, toFloat64(1 + n % 10), "
            f"toDateTime({T0} + n), n + 1 FROM (SELECT number + {start} AS n FROM system.numbers LIMIT {count})"
        )
    load_s = time.perf_counter() - began
    parts = store._execute(
        f"SELECT count() FROM system.parts WHERE database = 'bench_read' AND table = '{TABLE}' AND active"
    )
    timings = []
    for _ in range(READ_REPEATS):
        began = time.perf_counter()
        frame = store.read_all()
        timings.append(time.perf_counter() - began)
        assert len(frame) == rows, f"read {len(frame)} rows, expected {rows}"
        del frame
    store.close()
    return {
        "rows": rows,
        "active_parts": int(parts[0][0]),
        "server_side_load_seconds": round(load_s, 2),
        "read_all_seconds": [round(t, 2) for t in timings],
        "best_seconds": round(min(timings), 2),
        "median_seconds": round(statistics.median(timings), 2),
        "rows_per_s_best": round(rows / min(timings)),
    }


def _best_seconds(work: Callable[[], object], repeats: int = CODEC_REPEATS) -> float:
    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()
        timings.append(time.perf_counter() - began)
    return min(timings)


def bench_codec(events: int) -> dict[str, Any]:
    """Decode ``events`` messages with the loader's codec and, as the reference, with ``json.loads``."""
    values = [value for _, value in make_payloads(events, seed=3)]
    reference_s = _best_seconds(lambda: [json.loads(value) for value in values])
    decode = EventDecoder().decode
    codec_s = _best_seconds(lambda: [decode(value) for value in values])
    return {
        "events": events,
        "decode_per_s": round(events / codec_s),
        "reference_json_loads_per_s": round(events / reference_s),
        "decode_vs_json_loads": round(reference_s / codec_s, 2),
    }


def machine(url: str) -> dict[str, Any]:
    """The shared machine description plus the versions of the parts this benchmark measures."""
    store = ClickHouseRatingStore(url.rsplit("/", 1)[0] + "/default")
    ((version,),) = store._execute("SELECT version()")
    store.close()
    return {
        **machine_info(),
        "clickhouse_server": version,
        "clickhouse_driver": ".".join(map(str, clickhouse_driver.VERSION)),
        "confluent_kafka": str(getattr(confluent_kafka, "__version__", "unknown")),
        "librdkafka": confluent_kafka.libversion()[0],
        "load_average_at_start": list(os.getloadavg()),
    }


app = typer.Typer(add_completion=False)


@app.command(help=__doc__)
def main(
    events: Annotated[int, typer.Option(help="events through the pipeline")] = 500_000,
    read_rows: Annotated[int, typer.Option(help="ratings read by read_all")] = 5_000_000,
    batch_size: Annotated[int, typer.Option(help="loader batch size")] = 50_000,
    clickhouse_url: Annotated[str | None, typer.Option(help="use this server instead of a private one")] = None,
    kafka_bootstrap: Annotated[str | None, typer.Option(help="use this broker instead of the mock cluster")] = None,
    skip_read: Annotated[bool, typer.Option("--skip-read")] = False,
    note: Annotated[str, typer.Option(help="free text stored with the results")] = "",
    output: Annotated[Path, typer.Option()] = DEFAULT_OUTPUT,
) -> None:
    with (
        private_clickhouse() if not clickhouse_url else _given(clickhouse_url) as url,
        kafka_cluster(kafka_bootstrap) as bootstrap,
    ):
        ClickHouseRatingStore(url).ensure_schema()
        result: dict[str, Any] = {
            "benchmark": "ugc_pipeline",
            "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "machine": machine(url),
            "kafka": kafka_bootstrap or "librdkafka mock cluster (in process)",
            "target_events_per_s": TARGET_EVENTS_PER_S,
            "note": note,
        }
        print("end to end ...", flush=True)
        result["end_to_end"] = bench_end_to_end(bootstrap, url, events, batch_size)
        print(result["end_to_end"], flush=True)
        print("loader drain ...", flush=True)
        result["loader_drain"] = bench_drain(bootstrap, url, min(events, DRAIN_MAX_EVENTS), batch_size)
        print(result["loader_drain"], flush=True)
        if not skip_read:
            print("read_all ...", flush=True)
            result["read_all"] = bench_read(url, read_rows)
            print(result["read_all"], flush=True)
        print("codec ...", flush=True)
        result["codec"] = bench_codec(CODEC_EVENTS)
        print(result["codec"], flush=True)
        result["machine"]["load_average_at_end"] = list(os.getloadavg())
    result["meets_target"] = result["end_to_end"]["events_per_s"] >= TARGET_EVENTS_PER_S
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {output}")


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    app()
