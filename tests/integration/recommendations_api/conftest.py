"""Fixtures of the API's integration tests: real Redis (own key prefix) or a SQLite file, lists
published through the RecStore writer API, a TCP proxy in front of Redis that a test can cut, and a
private redis-server that a test can freeze (SIGSTOP: the shared server is never stopped)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest
import redis

from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.domain import ColdStartLists
from recsys_common.ids import film_id_for
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import RecStore, VersionMeta

GENRES = ("Comedy", "Drama")
FILMS = [film_id_for(f"apitest:{i}") for i in range(40)]
COLD = ColdStartLists(
    overall=tuple(FILMS[30:40]), by_genre={"Comedy": tuple(FILMS[30:33]), "Drama": tuple(FILMS[33:36])}
)
PROXY_CHUNK = 65_536
REDIS_START_TIMEOUT_S = 10.0
REDIS_STOP_TIMEOUT_S = 5.0


@pytest.fixture(params=["sqlite", "redis"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], RecStore]]:
    """Builds stores over one fresh storage: a SQLite file, or a Redis key prefix of this test."""
    opened: list[RecStore] = []
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        prefix = request.getfixturevalue("redis_prefix")

    def make() -> RecStore:
        store: RecStore
        if request.param == "sqlite":
            store = SqliteRecStore(tmp_path / "recstore.sqlite")
        else:
            store = RedisRecStore(url, prefix=prefix)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def publish_lists(
    store: RecStore,
    version: str,
    personal: dict[str, tuple[list[int], list[list[int]]]],
    commit: bool = True,
    reasons: dict[str, list[int]] | None = None,
) -> VersionMeta:
    """Publish ``{user: (must-watch indices, [Comedy indices, Drama indices])}`` with the writer API
    (``commit=False`` leaves the version pending and returns its would-be metadata), with ``{user:
    the rated film index behind each must-watch film}`` when ``reasons`` is given."""
    layout = ListLayout.for_catalogue(len(FILMS), 10, 5, GENRES, reasons=reasons is not None)
    meta = VersionMeta(version, f"model-{version}", "2026-11-23T00:00:00Z", layout)
    writer = store.begin(meta, FILMS)
    must_watch = np.full((len(personal), 10), -1)
    by_genre = np.full((len(personal), len(GENRES), 5), -1)
    for row, (mw, genres) in enumerate(personal.values()):
        must_watch[row, : len(mw)] = mw
        for g, films in enumerate(genres):
            by_genre[row, g, : len(films)] = films
    because = np.full((len(personal), 10), -1)
    for row, user in enumerate(personal):
        given = (reasons or {}).get(user, [])
        because[row, : len(given)] = given
    writer.put_block(list(personal), must_watch, by_genre, because)
    writer.put_cold_start(COLD)
    return writer.commit() if commit else meta


@pytest.fixture
def publish() -> Callable[..., VersionMeta]:
    return publish_lists


@pytest.fixture
def films() -> list[str]:
    return FILMS


@pytest.fixture
def cold() -> ColdStartLists:
    return COLD


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    return free_port


class TcpProxy:
    """Forwards a loopback port to Redis; ``stop`` cuts every connection and refuses new ones,
    ``start`` serves again on the same port. Stands in for a Redis that goes away and comes back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def url(self, redis_url: str) -> str:
        """``redis_url`` (credentials, database) pointed at the proxy."""
        parts = urlsplit(redis_url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in [listener, *sockets]:
            if sock is None:
                continue
            with contextlib.suppress(OSError):  # already disconnected by the other side
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by stop()
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(PROXY_CHUNK):
                sink.sendall(data)
        except OSError:
            return  # one side was cut: the other pump ends too
        finally:
            with contextlib.suppress(OSError):  # the other side is gone already
                sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:
    parts = urlsplit(redis_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 6379))
    proxy.start()
    yield proxy
    proxy.stop()


class PrivateRedis:
    """A redis-server of this test on a free port, without persistence; ``freeze`` stops the process
    (SIGSTOP: connections stay open and go unanswered, like a hung server), ``thaw`` resumes it."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("this test needs the redis-server binary (apt-get install redis-server)")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.frozen = False
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    if time.monotonic() > deadline or self._process.poll() is not None:
                        self.stop()
                        pytest.fail(f"redis-server did not answer on port {self.port}")
                    time.sleep(0.02)
        finally:
            client.close()

    def freeze(self) -> None:
        os.kill(self._process.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen:
            os.kill(self._process.pid, signal.SIGCONT)
            self.frozen = False

    def stop(self) -> None:
        self.thaw()
        self._process.terminate()
        try:
            self._process.wait(REDIS_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()
