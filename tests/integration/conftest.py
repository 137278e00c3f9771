"""Real servers for integration tests: a private ClickHouse server, librdkafka's mock Kafka cluster
and a private three-node Redis Cluster (``tests/redis_cluster.py``).

ClickHouse: Debian's ``clickhouse-server`` (18.16; ``.ci/run`` installs it) or a current
``clickhouse`` binary, started on free ports with a config written to a temporary directory (plus
the compose settings of ``clickhouse/config.d``); each test gets a database of its own. A test that
needs to stop and restart the server (outage) asks ``clickhouse_server_factory`` for one of its own.
``clickhouse_cluster``: two such servers that form a two-shard cluster (a ``remote_servers`` section
written into both servers' config.d), for the sharded rating store; ``clickhouse_cluster_database``
names a database of the test's own, dropped from every shard afterwards.

Kafka: a client created with ``test.mock.num.brokers`` owns an in-process cluster that real
producers and consumer groups reach over TCP; tests use topics and groups with unique names.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_driver import Client
from confluent_kafka import Consumer, Message, Producer, TopicPartition

from tests.redis_cluster import RedisClusterServers

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_CONFIG_D = REPO_ROOT / "clickhouse" / "config.d"
#: Where Debian puts the server when it is not on PATH.
SERVER_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
PING_INTERVAL_S = 0.05
KAFKA_METADATA_TIMEOUT_S = 10.0
KAFKA_READ_TIMEOUT_S = 30.0
KAFKA_POLL_S = 0.5

_USERS_XML = """<?xml version="1.0"?>
<yandex>
    <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
"""

_CONFIG_XML = """<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{root}/log/server.log</log>
        <errorlog>{root}/log/error.log</errorlog>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp_port}</tcp_port>
    <http_port>{http_port}</http_port>
    <path>{root}/data/</path>
    <tmp_path>{root}/tmp/</tmp_path>
    <user_files_path>{root}/user_files/</user_files_path>
    <format_schema_path>{root}/format_schemas/</format_schema_path>
    <users_config>{root}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
</yandex>
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_command() -> list[str]:
    server = shutil.which("clickhouse-server", path=SERVER_SEARCH_PATH)
    if server:
        return [server]
    single_binary = shutil.which("clickhouse", path=SERVER_SEARCH_PATH)
    if single_binary:
        return [single_binary, "server"]
    pytest.fail(
        "integration tests need ClickHouse: install Debian's clickhouse-server package "
        "(apt-get install clickhouse-server; .ci/run does it) or put a `clickhouse` binary on PATH"
    )


class ClickHouseServer:
    """One clickhouse-server process on free ports, with its data in ``root``; stoppable and restartable."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tcp_port = _free_port()
        self.http_port = _free_port()
        self._process: subprocess.Popen[bytes] | None = None
        for sub in ("log", "data", "tmp", "user_files", "format_schemas", "config.d"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for extra in sorted(COMPOSE_CONFIG_D.glob("*.xml")):
            shutil.copy(extra, root / "config.d" / extra.name)
        (root / "users.xml").write_text(_USERS_XML)
        self.config = root / "config.xml"
        self.config.write_text(_CONFIG_XML.format(root=root, tcp_port=self.tcp_port, http_port=self.http_port))

    def url(self, database: str = "default") -> str:
        return f"clickhouse://default:@127.0.0.1:{self.tcp_port}/{database}"

    def client(self, database: str = "default") -> Client:
        return Client.from_url(self.url(database))

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/ping", timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def write_config(self, name: str, xml: str) -> None:
        """Add a file to the server's ``config.d`` (read at start, e.g. a cluster's ``remote_servers``)."""
        (self.root / "config.d" / name).write_text(xml)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process without waiting (``wait_ready`` waits), so several servers boot together."""
        if self.running:
            return
        log = (self.root / "log" / "stdout.log").open("ab")
        self._process = subprocess.Popen(
            [*_server_command(), f"--config-file={self.config}"], stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        log.close()

    def wait_ready(self) -> None:
        process = self._process
        deadline = time.monotonic() + START_TIMEOUT_S
        while process is not None and time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if self._ping():
                return
            time.sleep(PING_INTERVAL_S)
        self.stop()
        logs = [self.root / "log" / name for name in ("stdout.log", "error.log")]
        tails = "\n".join(path.read_text(errors="replace")[-2000:] for path in logs if path.exists())
        pytest.fail(f"clickhouse-server did not answer /ping within {START_TIMEOUT_S:g} s:\n{tails}")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGKILL with ``kill``, to simulate a crash); its data stays for ``start``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def clickhouse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    """The ClickHouse server shared by the session (tests isolate themselves by database)."""
    server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def clickhouse_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], ClickHouseServer]]:
    """Private servers for tests that stop and restart them; all are stopped afterwards."""
    servers: list[ClickHouseServer] = []

    def make() -> ClickHouseServer:
        server = ClickHouseServer(tmp_path_factory.mktemp("clickhouse-private"))
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def clickhouse_url(clickhouse_server: ClickHouseServer) -> Iterator[str]:
    """URL of a fresh database of this test on the shared server; dropped afterwards."""
    database = f"test_{uuid.uuid4().hex}"
    yield clickhouse_server.url(database)
    client = clickhouse_server.client()
    try:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
    finally:
        client.disconnect()


#: Name of the test cluster in ``remote_servers`` (what ``RECSYS_CLICKHOUSE_CLUSTER`` names).
CLUSTER_NAME = "recsys_test"
CLUSTER_SHARDS = 2


def remote_servers_xml(cluster: str, servers: Sequence[ClickHouseServer]) -> str:
    """A ``remote_servers`` config: one shard per server (one replica each), the same file for all."""
    shards = "".join(
        f"<shard><replica><host>127.0.0.1</host><port>{server.tcp_port}</port></replica></shard>" for server in servers
    )
    return f'<?xml version="1.0"?>\n<yandex><remote_servers><{cluster}>{shards}</{cluster}></remote_servers></yandex>\n'


class ClickHouseCluster:
    """``shards`` clickhouse-server processes, each on its own ports and directory, that form the
    cluster ``name``: every server's config.d gets the same ``remote_servers`` section."""

    def __init__(self, root: Path, name: str = CLUSTER_NAME, shards: int = CLUSTER_SHARDS) -> None:
        self.name = name
        self.servers = [ClickHouseServer(root / f"shard{number}") for number in range(1, shards + 1)]
        config = remote_servers_xml(name, self.servers)
        for server in self.servers:
            server.write_config("remote_servers.xml", config)

    def start(self) -> None:
        for server in self.servers:
            server.launch()
        for server in self.servers:
            server.wait_ready()

    def stop(self) -> None:
        """SIGKILL: a graceful stop waits ~10 s for the connections the servers hold to each other,
        and the data is a test's, thrown away anyway."""
        for server in self.servers:
            server.stop(kill=True)

    def url(self, database: str = "default") -> str:
        """Clients connect to the first server; any server of the cluster would do."""
        return self.servers[0].url(database)


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseCluster]:
    """A two-shard ClickHouse cluster shared by the session (tests isolate themselves by database)."""
    cluster = ClickHouseCluster(tmp_path_factory.mktemp("clickhouse-cluster"))
    started = time.monotonic()
    cluster.start()
    print(f"\ntwo-shard ClickHouse cluster ready in {time.monotonic() - started:.2f} s")
    yield cluster
    cluster.stop()


@pytest.fixture
def clickhouse_cluster_database(clickhouse_cluster: ClickHouseCluster) -> Iterator[str]:
    """A fresh database name of this test, dropped from every shard afterwards."""
    database = f"test_{uuid.uuid4().hex}"
    yield database
    for server in clickhouse_cluster.servers:
        client = server.client()
        try:
            client.execute(f"DROP DATABASE IF EXISTS {database}")
        finally:
            client.disconnect()


@dataclass
class KafkaRecord:
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    partition: int
    offset: int


class MockKafka:
    """librdkafka's mock cluster and helpers to write and read its topics."""

    def __init__(self) -> None:
        # The cluster lives as long as this client object.
        self._owner = Producer({"test.mock.num.brokers": 1, "log_level": 3})
        metadata = self._owner.list_topics(timeout=KAFKA_METADATA_TIMEOUT_S)
        self.bootstrap: str = metadata.orig_broker_name.split("/")[0]

    @staticmethod
    def new_name(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:12]}"

    def produce(
        self, topic: str, records: Sequence[tuple[bytes | None, bytes | None]], max_message_bytes: int | None = None
    ) -> None:
        """Write (key, value) records and wait until all are acknowledged (messages up to ``max_message_bytes``)."""
        config: dict[str, object] = {"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "linger.ms": 5}
        if max_message_bytes is not None:
            config["message.max.bytes"] = max_message_bytes
        producer = Producer(config)
        failures: list[str] = []

        def report(error: object, message: Message) -> None:
            if error is not None:
                failures.append(str(error))

        for key, value in records:
            while True:
                try:
                    producer.produce(topic, value=value, key=key, on_delivery=report)
                    break
                except BufferError:
                    producer.poll(KAFKA_POLL_S)
        remaining = producer.flush(KAFKA_READ_TIMEOUT_S)
        assert remaining == 0 and not failures, f"produce to {topic} failed: {remaining} left, {failures[:3]}"

    def partitions(self, topic: str) -> list[int]:
        metadata = self._owner.list_topics(topic, timeout=KAFKA_METADATA_TIMEOUT_S)
        return sorted(metadata.topics[topic].partitions)

    def end_offsets(self, topic: str) -> dict[int, int]:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.new_name("offsets")})
        try:
            return {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=KAFKA_METADATA_TIMEOUT_S)[1]
                for p in self.partitions(topic)
            }
        finally:
            consumer.close()

    def committed(self, topic: str, group: str) -> dict[int, int]:
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": group})
        try:
            partitions = [TopicPartition(topic, p) for p in self.partitions(topic)]
            return {p.partition: p.offset for p in consumer.committed(partitions, timeout=KAFKA_METADATA_TIMEOUT_S)}
        finally:
            consumer.close()

    def read(self, topic: str, count: int, timeout_s: float = KAFKA_READ_TIMEOUT_S) -> list[KafkaRecord]:
        """Read ``count`` records from the start of every partition (fails when fewer arrive)."""
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": self.new_name("reader"), "enable.auto.commit": False}
        )
        consumer.assign([TopicPartition(topic, p, 0) for p in self.partitions(topic)])
        records: list[KafkaRecord] = []
        deadline = time.monotonic() + timeout_s
        try:
            while len(records) < count and time.monotonic() < deadline:
                for message in consumer.consume(count - len(records), KAFKA_POLL_S):
                    assert message.error() is None, message.error()
                    raw = message.headers() or []
                    pairs = raw.items() if isinstance(raw, dict) else raw
                    headers = {k: v if isinstance(v, bytes) else (v or "").encode() for k, v in pairs}
                    records.append(
                        KafkaRecord(
                            message.key(), message.value(), headers, message.partition() or 0, message.offset() or 0
                        )
                    )
        finally:
            consumer.close()
        assert len(records) >= count, f"read {len(records)} of {count} records from {topic} in {timeout_s:g} s"
        return records


@pytest.fixture(scope="session")
def kafka() -> Iterator[MockKafka]:
    """The session's mock Kafka cluster (tests use their own topic and group names)."""
    cluster = MockKafka()
    yield cluster
    del cluster


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterServers]:
    """A private Redis Cluster of three primaries, shared by the session (tests isolate themselves by
    key prefix); started on first use (~5 s: the nodes wait before accepting writes), stopped at the end."""
    servers = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    servers.start()
    yield servers
    servers.stop()
