"""A real Redis Cluster for tests: three ``redis-server --cluster-enabled yes`` processes on free
loopback ports (no persistence, files in a temporary directory), joined by ``redis-cli --cluster
create`` with no replicas, so every node is a primary holding a third of the 16,384 slots."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from recsys_common.adapters.redis_recstore import CLUSTER_SCHEMES, is_cluster_url

NODES = 3
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
POLL_S = 0.02
MIGRATE_KEYS = 100
MIGRATE_TIMEOUT_MS = 5_000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"a Redis Cluster needs {name} (apt-get install redis-server)")
    return path


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _cluster_ok(client: redis.Redis) -> bool:
    info = client.cluster("info")  # parsed into a dict by redis-py
    return bool(info.get("cluster_state") == "ok")


def client_for(url: str) -> redis.Redis | RedisCluster:
    """A plain redis-py client of what a RecStore ``url`` names: one server, or a cluster."""
    if is_cluster_url(url):
        scheme, rest = url.split("://", 1)
        return RedisCluster.from_url(f"{CLUSTER_SCHEMES[scheme.lower()]}://{rest}")
    return redis.Redis.from_url(url)


class RedisClusterServers:
    """Three clustered redis-server processes; ``url`` is the RecStore's ``redis+cluster://`` URL."""

    def __init__(self, root: Path, nodes: int = NODES) -> None:
        self.root = root
        self.ports = [_free_port() for _ in range(nodes)]
        #: The cluster bus ports, chosen too (the default, port + 10,000, may be taken or beyond 65,535).
        self.bus_ports = [_free_port() for _ in range(nodes)]
        self._processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        """The RecStore URL: one seed node; the client discovers the others."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def node(self, port: int) -> redis.Redis:
        """A plain client of one node (sees only that node's keys)."""
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=START_TIMEOUT_S)

    def keys(self, pattern: str = "*") -> dict[int, list[str]]:
        """Port -> the keys on that node matching ``pattern``, sorted."""
        found: dict[int, list[str]] = {}
        for port in self.ports:
            client = self.node(port)
            try:
                found[port] = sorted(key.decode() for key in client.scan_iter(match=pattern, count=1000))
            finally:
                client.close()
        return found

    def start(self) -> None:
        server = _binary("redis-server")
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            workdir = self.root / str(port)
            workdir.mkdir(parents=True, exist_ok=True)
            command = [
                server,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-port", str(bus_port),
                "--cluster-config-file", str(workdir / "nodes.conf"),
                "--dir", str(workdir),
                "--save", "",
                "--appendonly", "no",
            ]  # fmt: skip
            log = (workdir / "redis.log").open("wb")
            self._processes.append(subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT))
            log.close()
        try:
            for port in self.ports:
                self._wait(port, lambda client: bool(client.ping()))
            create = [_binary("redis-cli"), "--cluster", "create"]
            create += [f"127.0.0.1:{port}" for port in self.ports]
            create += ["--cluster-replicas", "0", "--cluster-yes"]
            subprocess.run(create, check=True, capture_output=True, timeout=START_TIMEOUT_S)
            for port in self.ports:
                self._wait(port, _cluster_ok)
        except BaseException:
            self.stop()
            raise

    def _wait(self, port: int, ready: Callable[[redis.Redis], bool]) -> None:
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2, decode_responses=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    if ready(client):
                        return
                except redis.exceptions.ConnectionError:
                    pass
                if time.monotonic() > deadline or any(process.poll() is not None for process in self._processes):
                    log = (self.root / str(port) / "redis.log").read_text(errors="replace")[-1000:]
                    raise RuntimeError(f"the Redis Cluster node on port {port} is not ready:\n{log}")
                time.sleep(POLL_S)
        finally:
            client.close()

    def move_slot(self, slot: int, to_port: int) -> None:
        """Reshard one slot with its keys onto the node at ``to_port``, as ``redis-cli --cluster
        reshard`` does: IMPORTING / MIGRATING, MIGRATE of its keys, then SETSLOT NODE on every node."""
        clients = {port: self.node(port) for port in self.ports}
        try:
            ids = {port: _text(client.cluster("myid")) for port, client in clients.items()}
            owner = next(port for port in self.ports if self._owner(clients[port], slot) == ids[port])
            if owner == to_port:
                return
            clients[to_port].cluster("setslot", slot, "IMPORTING", ids[owner])
            clients[owner].cluster("setslot", slot, "MIGRATING", ids[to_port])
            while keys := clients[owner].cluster("getkeysinslot", slot, MIGRATE_KEYS):
                clients[owner].migrate("127.0.0.1", to_port, keys, 0, MIGRATE_TIMEOUT_MS)
            for client in clients.values():
                client.cluster("setslot", slot, "NODE", ids[to_port])
        finally:
            for client in clients.values():
                client.close()

    @staticmethod
    def _owner(client: redis.Redis, slot: int) -> str | None:
        """The id of the primary serving ``slot``, as ``client``'s node sees it."""
        for start, end, primary, *_ in client.cluster("slots"):
            if start <= slot <= end:
                return _text(primary[2])
        return None

    def kill_node(self, port: int) -> None:
        """SIGKILL one node (a crash: the others keep serving their slots)."""
        process = self._processes[self.ports.index(port)]
        process.kill()
        process.wait()

    def stop(self) -> None:
        processes, self._processes = self._processes, []
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
