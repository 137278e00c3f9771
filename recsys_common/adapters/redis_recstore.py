"""RecStore in Redis: the production adapter, on one Redis server or on a Redis Cluster.

Keys, under a prefix ``p`` (settings ``redis_prefix``). A version's data keys carry no hash tag, so
on a cluster they spread over the slots (and nodes):

- ``p:v:{version}:users:{bucket}``  HASH user id -> record bytes (see ``recsys_common.listcodec``),
  and ``{user id}/overlay`` -> the record the online loop wrote for that user (user ids never hold
  '/'); a user's bucket is ``crc32(user id) % USER_BUCKETS``, so the API reads a user's overlay and
  batch record with one HMGET
- ``p:v:{version}:films``  STRING, JSON list of film ids (index -> film id)
- ``p:v:{version}:cold``   STRING, JSON cold-start lists
- ``p:v:{version}:similar`` HASH film index -> its similar films (packed int32 film indices, see
  ``recsys_common.versions.encode_similar``); absent when the version has no similar lists

The control keys share the hash tag ``{p}``, so they live in one slot and the Lua scripts that
touch several of them (``commit``, ``activate``, the first step of ``delete``) are each one atomic
step, on a cluster too:

- ``{p}:meta``      HASH version -> metadata JSON (committed versions only)
- ``{p}:current``   STRING, the serving version
- ``{p}:retired``   ZSET version -> unix time it stopped serving
- ``{p}:pending``   ZSET version -> unix time its publish started
- ``{p}:deleting``  ZSET version -> unix time its deletion started

A publish writes the films, records and cold-start lists (pipelined; on a cluster, redis-py groups
the pipeline's commands by node) before ``commit`` flips ``current``. Deleting a version is three
steps, since its keys may be on other nodes than the control slot: a script moves it from the meta,
retired and pending sets into ``deleting`` (refusing the current version; from then on it can be
neither activated nor committed), then its data keys are unlinked, then it leaves ``deleting``. A
crash in between leaves it in ``deleting``, and the next ``prune`` finishes the job. ``clear``
deletes ``current`` first, then every ``p:v:*`` key (SCAN of every primary node on a cluster), then
the control sets.

``url``: ``redis://`` or ``rediss://`` for one server; ``redis+cluster://`` or ``rediss+cluster://``
(one seed node, the client discovers the others; no database number but 0) for a Redis Cluster.
The client connects lazily, on the first command; connection errors, timeouts and a cluster that is
down surface as ``StoreUnavailable`` naming the URL (without its password).
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.connection import parse_url
from redis.exceptions import AskError, ClusterError, RedisClusterException, TryAgainError
from redis.retry import Retry

from recsys_common.domain import ColdStartLists
from recsys_common.ports.recstore import Indices, StoreUnavailable, UnknownVersion, VersionMeta, VersionWriter
from recsys_common.versions import (
    Found,
    PendingVersion,
    RecordLists,
    cold_start_from_json,
    encode_overlay,
    meta_from_json,
    meta_to_json,
    newest_first,
    pending_meta,
    prunable,
)

DEFAULT_SOCKET_TIMEOUT_S = 0.5
DEFAULT_CONNECT_TIMEOUT_S = 0.5
#: One immediate retry: a pooled connection that died with a Redis restart is re-opened once.
DEFAULT_RETRIES = 1
#: Keys per SCAN step and per UNLINK command when clearing the store.
SCAN_COUNT = 1_000
#: Version key parts (``p:v:{version}:{part}``); USERS is split into USER_BUCKETS hashes.
VERSION_PARTS = ("users", "films", "cold", "similar")
USERS = "users"
#: Hashes a version's users are spread over (``p:v:{version}:users:{bucket}``): on a cluster, enough
#: to balance ~100 nodes; a bucket of 100M users' ~1 KB records is ~100 MB. Part of the key layout:
#: a version written with another count cannot be read.
USER_BUCKETS = 1_024
#: URL schemes of a Redis Cluster, and the redis-py scheme each stands for.
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
#: Suffix of a user's overlay field in the version's users hash.
OVERLAY_SUFFIX = "/overlay"
#: Fields per HSET command (similar lists) and records per pipeline round trip when writing a version.
HSET_CHUNK = 5_000
PIPELINE_RECORDS = 20_000

#: A client of one server or of a cluster: the commands the store uses are the same.
Client: TypeAlias = redis.Redis | RedisCluster

# KEYS: meta, pending, current, retired. ARGV: version, meta json, retired_at.
_COMMIT = """
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
local old = redis.call('GET', KEYS[3])
if old and old ~= ARGV[1] then redis.call('ZADD', KEYS[4], ARGV[3], old) end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SET', KEYS[3], ARGV[1])
return 1
"""

# KEYS: meta, current, retired. ARGV: version, retired_at.
_SET_CURRENT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local old = redis.call('GET', KEYS[2])
if old and old ~= ARGV[1] then redis.call('ZADD', KEYS[3], ARGV[2], old) end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return 1
"""

# KEYS: meta, current, retired, pending, deleting. ARGV: version, started_at.
_START_DELETE = """
if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
return 1
"""


_SCRIPTS = (_COMMIT, _SET_CURRENT, _START_DELETE)


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://``, ``rediss+cluster://``)."""
    return urlsplit(url).scheme.lower() in CLUSTER_SCHEMES


def user_bucket(user_id: str) -> int:
    """The bucket of a user's records: stable across processes and machines (unlike ``hash``)."""
    return zlib.crc32(user_id.encode()) % USER_BUCKETS


def redact_url(url: str) -> str:
    """The URL without its password (user info or ``?password=``), for messages and logs."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.password is None and not any(name.lower() == "password" for name, _ in query):
        return url
    if parts.password is not None:
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    hidden = [(name, "***" if name.lower() == "password" else value) for name, value in query]
    return urlunsplit(parts._replace(query=urlencode(hidden, safe="*")))


class RedisRecStore(RecordLists):
    """RecStore (every role) over Redis (redis-py). Building it does not connect."""

    def __init__(
        self,
        url: str,
        prefix: str = "recsys",
        socket_timeout_s: float = DEFAULT_SOCKET_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        if not prefix:
            raise ValueError("the Redis key prefix must not be empty")
        if "{" in prefix or "}" in prefix:
            raise ValueError(f"the Redis key prefix must not hold '{{' or '}}' (hash tags): {prefix!r}")
        self._url = redact_url(url)
        self._prefix = prefix
        options = {
            "socket_timeout": socket_timeout_s,
            "socket_connect_timeout": connect_timeout_s,
            "retry": Retry(NoBackoff(), retries),
        }
        self._server = _Server(_client_factory(url, options), self._url, prefix)
        self._point: Client | None = None  # see _point_client
        self._node_points: dict[str, redis.Redis] = {}  # see _node_point
        self._point_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisRecStore({self._url!r}, prefix={self._prefix!r})"

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def _client(self) -> Client:
        """The pooled client (a cluster client on a cluster), built on first use."""
        return self._server.client

    def _point_client(self) -> Client:
        """A client that keeps one connection for the API's hot read (one HMGET per request).

        The pooled client checks a connection out and in around every command (a poll syscall and
        bookkeeping): ~40 us of CPU per command here, a third of a request's cost. It is built on
        first use, since building a single-connection client connects. A cluster client routes each
        command to its node's pool, so it is used as it is.
        """
        point = self._point
        if point is None:
            client = self._client
            with self._point_lock:
                if self._point is None:
                    self._point = (
                        client
                        if isinstance(client, RedisCluster)
                        else redis.Redis(connection_pool=client.connection_pool, single_connection_client=True)
                    )
                point = self._point
        return point

    def _node_point(self, cluster: RedisCluster, key: str) -> Client:
        """On a cluster, the hot read's single-connection client of the node serving ``key``'s slot
        (by the cluster client's slot map; the cluster client itself before it knows the node)."""
        node = cluster.get_node_from_key(key)  # type: ignore[no-untyped-call]
        point = self._node_points.get(node.name)
        if point is None:
            if node.redis_connection is None:
                return cluster
            with self._point_lock:
                point = self._node_points.get(node.name)
                if point is None:  # building it takes a connection of the node's pool
                    pool = node.redis_connection.connection_pool
                    point = self._node_points[node.name] = redis.Redis(
                        connection_pool=pool, single_connection_client=True
                    )
        return point

    def _hmget(self, key: str, fields: list[str]) -> list[Any]:
        """HMGET on the hot path: one command on one connection kept open (per node on a cluster). A
        slot that moved, or a node that failed, is left to the cluster client, which follows the
        redirection or re-reads the slot map (and so points this client at the new node)."""
        client = self._client
        if not isinstance(client, RedisCluster):
            return self._point_client().hmget(key, fields)
        try:
            return self._node_point(client, key).hmget(key, fields)
        except (AskError, TryAgainError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            return client.hmget(key, fields)

    def ping(self) -> None:
        with self._server.guard():
            self._client.ping()

    def close(self) -> None:
        with self._point_lock:
            if self._point is not None and self._point is not self._server.built:
                self._point.close()
            self._point = None
            for point in self._node_points.values():
                point.close()
            self._node_points.clear()
        self._server.close()

    # ----- publishing -----
    def begin(self, meta: VersionMeta, films: Sequence[str]) -> VersionWriter:
        with self._server.guard():
            if (
                self._client.hexists(self._server.meta_key, meta.version)
                or self._client.zscore(self._server.pending_key, meta.version) is not None
                or self._client.zscore(self._server.deleting_key, meta.version) is not None
            ):
                raise ValueError(f"version {meta.version} already exists")
            meta = pending_meta(meta, films)
            if not self._client.zadd(self._server.pending_key, {meta.version: time.time()}, nx=True):
                raise ValueError(f"version {meta.version} already exists")
            self._client.set(self._server.key(meta.version, "films"), json.dumps(list(films)))
        return _RedisVersionWriter(meta, self._server)

    def resume(self, meta: VersionMeta) -> VersionWriter:
        self._server.check_pending(meta.version)
        return _RedisVersionWriter(meta, self._server, resumed=True)

    def put_overlay(
        self,
        meta: VersionMeta,
        user_id: str,
        must_watch: Indices,
        by_genre: Indices | None,
        reasons: Indices | None = None,
    ) -> None:
        record = encode_overlay(meta, must_watch, by_genre, reasons)
        with self._server.guard():
            if not self._client.hexists(self._server.meta_key, meta.version):
                raise UnknownVersion(meta.version)
            self._client.hset(self._server.user_key(meta.version, user_id), user_id + OVERLAY_SUFFIX, record)

    # ----- lifecycle -----
    def activate(self, version: str) -> VersionMeta:
        meta = self._meta(version)
        if meta is None:
            raise UnknownVersion(version)
        self._server.set_current(version, time.time())
        return meta

    def versions(self) -> list[VersionMeta]:
        with self._server.guard():
            raw: dict[Any, Any] = self._client.hgetall(self._server.meta_key)
        return newest_first(meta_from_json(_text(text)) for text in raw.values())

    def pending(self) -> dict[str, float]:
        return self._zset(self._server.pending_key)

    def drop_pending(self) -> list[str]:
        names = sorted(self.pending())
        for name in names:
            self._server.delete(name)
        return names

    def prune(self, keep: int, grace_s: float, now: float | None = None) -> list[str]:
        """As the port says, and also finishes the deletions a crash interrupted (returned last)."""
        current = self._current_name()
        doomed = prunable(
            self.versions(), current, self._zset(self._server.retired_key), self.pending(), keep, grace_s, now
        )
        doomed += sorted(set(self._zset(self._server.deleting_key)) - set(doomed))
        for name in doomed:
            self._server.delete(name)
        return doomed

    def clear(self) -> None:
        with self._server.guard():
            self._client.unlink(self._server.current_key)
            pattern = f"{_glob_escape(self._prefix)}:v:*"
            self._server.unlink(_text(key) for key in self._client.scan_iter(match=pattern, count=SCAN_COUNT))
            self._client.unlink(*self._server.control_sets)

    # ----- reading -----
    def current(self) -> VersionMeta | None:
        name = self._current_name()
        return None if name is None else self._meta(name)

    def _current_name(self) -> str | None:
        with self._server.guard():
            name = self._client.get(self._server.current_key)
        return None if name is None else _text(name)

    def _meta(self, version: str) -> VersionMeta | None:
        with self._server.guard():
            text = self._client.hget(self._server.meta_key, version)
        return None if text is None else meta_from_json(_text(text))

    def films(self, version: str) -> tuple[str, ...]:
        with self._server.guard():
            text = self._client.get(self._server.key(version, "films"))
        if text is None:
            raise UnknownVersion(version)
        return tuple(json.loads(text))

    def _record(self, version: str, user_id: str) -> Found | None:
        """The user's overlay when there is one, else their batch record: one HMGET."""
        with self._server.guard():
            overlay, record = self._hmget(self._server.user_key(version, user_id), [user_id + OVERLAY_SUFFIX, user_id])
        if overlay is not None:
            return _bytes(overlay), True
        return None if record is None else (_bytes(record), False)

    def cold_start(self, version: str) -> ColdStartLists | None:
        with self._server.guard():
            text = self._client.get(self._server.key(version, "cold"))
        return None if text is None else cold_start_from_json(_text(text))

    def _similar_record(self, version: str, index: int) -> bytes | None:
        with self._server.guard():
            record = self._point_client().hget(self._server.key(version, "similar"), str(index))
        return None if record is None else _bytes(record)

    def _zset(self, key: str) -> dict[str, float]:
        with self._server.guard():
            pairs: list[tuple[Any, Any]] = self._client.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
        return {_text(name): float(score) for name, score in pairs}


def _client_factory(url: str, options: dict[str, Any]) -> Callable[[], Client]:
    """How to build the client ``url`` names (a cluster client connects when built, so it is built on
    first use); ValueError for a cluster URL redis-py would refuse."""
    parts = urlsplit(url)
    scheme = CLUSTER_SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        return lambda: redis.Redis.from_url(url, **options)
    plain = urlunsplit(parts._replace(scheme=scheme))
    if parse_url(plain).get("db", 0) != 0:  # type: ignore[no-untyped-call]
        raise ValueError(f"a Redis Cluster has only database 0: {redact_url(url)}")
    return lambda: RedisCluster.from_url(plain, **options)


class _Server:
    """The client (built on first use), its scripts and the key names: what the store and its
    writers share."""

    def __init__(self, build: Callable[[], Client], url: str, prefix: str) -> None:
        self._build = build
        self._lock = threading.Lock()
        self.built: Client | None = None
        self._scripts: dict[str, Script] = {}
        self.url = url
        self.prefix = prefix
        tag = "{" + prefix + "}"  # the control keys' hash tag: one slot for the scripts
        self.meta_key = f"{tag}:meta"
        self.current_key = f"{tag}:current"
        self.retired_key = f"{tag}:retired"
        self.pending_key = f"{tag}:pending"
        self.deleting_key = f"{tag}:deleting"
        self.control_sets = (self.meta_key, self.retired_key, self.pending_key, self.deleting_key)

    @property
    def client(self) -> Client:
        """The client, built (and on a cluster: connected) on first use; StoreUnavailable when the
        cluster cannot be reached."""
        client = self.built
        if client is None:
            with self._lock:
                if self.built is None:
                    with self.guard():
                        built = self._build()
                    self._scripts = {text: built.register_script(text) for text in _SCRIPTS}
                    self.built = built
                client = self.built
        return client

    def run(self, script: str, keys: list[str], args: list[str]) -> Any:
        """Run one of _SCRIPTS (by its text) on the slot of ``keys``."""
        client = self.client
        return self._scripts[script](keys=keys, args=args, client=client)

    def close(self) -> None:
        with self._lock:
            if self.built is not None:
                self.built.close()
                self.built = None

    def key(self, version: str, part: str) -> str:
        return f"{self.prefix}:v:{version}:{part}"

    def user_key(self, version: str, user_id: str) -> str:
        """The hash holding the user's batch record and overlay in ``version``."""
        return self.key(version, f"{USERS}:{user_bucket(user_id)}")

    def version_keys(self, version: str) -> list[str]:
        """Every data key of ``version`` (each of VERSION_PARTS; the users' buckets)."""
        keys: list[str] = []
        for part in VERSION_PARTS:
            if part == USERS:
                keys.extend(self.key(version, f"{USERS}:{bucket}") for bucket in range(USER_BUCKETS))
            else:
                keys.append(self.key(version, part))
        return keys

    def unlink(self, keys: Iterable[str]) -> None:
        """UNLINK ``keys``, which may be in any slots: one command per key, SCAN_COUNT per round trip
        (on a cluster the pipeline sends each node its commands)."""
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.unlink(key)
            if len(pipe) >= SCAN_COUNT:
                pipe.execute()
        pipe.execute()

    @contextmanager
    def guard(self) -> Iterator[None]:
        try:
            yield
        except (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
            ClusterError,
            RedisClusterException,
        ) as exc:
            raise StoreUnavailable(f"Redis at {self.url} is unreachable: {exc}") from exc

    def commit(self, meta: VersionMeta) -> None:
        """Store ``meta``, clear it from pending, retire the old current and point at it: one step."""
        keys = [self.meta_key, self.pending_key, self.current_key, self.retired_key]
        with self.guard():
            done = self.run(_COMMIT, keys, [meta.version, meta_to_json(meta), repr(time.time())])
        if not done:
            raise ValueError(f"version {meta.version} is not pending (aborted, pruned or already committed)")

    def set_current(self, version: str, retired_at: float) -> None:
        """Retire the old current at ``retired_at``, un-retire and point at ``version``: one step."""
        keys = [self.meta_key, self.current_key, self.retired_key]
        with self.guard():
            done = self.run(_SET_CURRENT, keys, [version, repr(retired_at)])
        if not done:
            raise UnknownVersion(version)

    def check_pending(self, version: str) -> None:
        """ValueError when ``version`` is not pending."""
        with self.guard():
            if self.client.zscore(self.pending_key, version) is None:
                raise ValueError(f"version {version} is not pending (aborted, pruned or already committed)")

    def delete(self, version: str) -> None:
        """Remove every key of the version (pending or committed, never current): moved to
        ``deleting`` in one step (so it can no longer be activated or committed), its data keys
        unlinked, then forgotten."""
        keys = [self.meta_key, self.current_key, self.retired_key, self.pending_key, self.deleting_key]
        with self.guard():
            if not self.run(_START_DELETE, keys, [version, repr(time.time())]):
                raise ValueError(f"version {version} is current and cannot be deleted")
            self.unlink(self.version_keys(version))
            self.client.zrem(self.deleting_key, version)


class _RedisVersionWriter(PendingVersion):
    """A pending version's keys; records go in pipelined HSETs."""

    def __init__(self, meta: VersionMeta, server: _Server, resumed: bool = False) -> None:
        super().__init__(meta, resumed)
        self._server = server

    def _store_records(self, records: list[tuple[str, bytes]], replace: bool) -> None:
        server, version = self._server, self.meta.version
        if replace:  # a resumed writer: never recreate the keys of a version dropped meanwhile
            server.check_pending(version)
        with server.guard():
            for first in range(0, len(records), PIPELINE_RECORDS):
                batch = records[first : first + PIPELINE_RECORDS]
                buckets: dict[str, dict[str, bytes]] = {}
                for user_id, record in batch:
                    buckets.setdefault(server.user_key(version, user_id), {})[user_id] = record
                if sum(len(mapping) for mapping in buckets.values()) != len(batch):
                    raise ValueError(f"a user id appears twice in one block of version {version}")
                pipe = server.client.pipeline(transaction=False)
                for key, mapping in buckets.items():
                    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                added = sum(int(n) for n in pipe.execute())
                if added != len(batch) and not replace:
                    raise ValueError(f"{len(batch) - added} user ids were already stored in version {version}")

    def _store_cold_start(self, text: str) -> None:
        with self._server.guard():
            self._server.client.set(self._server.key(self.meta.version, "cold"), text)

    def _store_similar(self, records: list[bytes]) -> None:
        key = self._server.key(self.meta.version, "similar")
        with self._server.guard():
            pipe = self._server.client.pipeline(transaction=False)
            pipe.unlink(key)
            for start in range(0, len(records), HSET_CHUNK):
                chunk = records[start : start + HSET_CHUNK]
                pipe.hset(key, mapping={str(start + i): record for i, record in enumerate(chunk)})
            pipe.execute()

    def _store_commit(self, meta: VersionMeta) -> None:
        self._server.commit(meta)

    def _store_drop(self) -> None:
        self._server.delete(self.meta.version)


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern (``*``, ``?``, ``[``, ``]`` and ``\\`` escaped)."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
