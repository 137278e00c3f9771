"""RecStore in Redis: the production adapter.

Keys, all under a prefix ``p`` (settings ``redis_prefix``):

- ``{p}:v:{version}:users``  HASH user id -> record bytes (see ``recsys_common.listcodec``), and
  ``{user id}/overlay`` -> the record the online loop wrote for that user (user ids never hold '/'),
  so the API reads a user's overlay and batch record with one HMGET
- ``{p}:v:{version}:films``  STRING, JSON list of film ids (index -> film id)
- ``{p}:v:{version}:cold``   STRING, JSON cold-start lists
- ``{p}:v:{version}:similar`` HASH film index -> its similar films (packed int32 film indices, see
  ``recsys_common.versions.encode_similar``); absent when the version has no similar lists
- ``{p}:meta``               HASH version -> metadata JSON (committed versions only)
- ``{p}:current``            STRING, the serving version
- ``{p}:retired``            ZSET version -> unix time it stopped serving
- ``{p}:pending``            ZSET version -> unix time its publish started

``clear`` deletes ``current`` first, then every version's keys (those the meta, retired and pending
sets name, and any other ``{p}:v:*`` key a publish that died may have left), then the sets.

``commit``, ``activate`` and ``delete`` are Lua scripts, so each is one atomic step on the server.
The client connects lazily, on the first command; connection errors and timeouts surface as
``StoreUnavailable`` naming the URL (without its password).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
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
#: Version key parts (``{p}:v:{version}:{part}``).
VERSION_PARTS = ("users", "films", "cold", "similar")
#: Suffix of a user's overlay field in the version's users hash.
OVERLAY_SUFFIX = "/overlay"
#: Fields per HSET command and records per pipeline round trip when writing a version.
HSET_CHUNK = 5_000
PIPELINE_RECORDS = 20_000

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

# KEYS: meta, current, retired, pending, users, films, cold, similar. ARGV: version.
_DELETE = """
if redis.call('GET', KEYS[2]) == ARGV[1] then return 0 end
redis.call('UNLINK', KEYS[5], KEYS[6], KEYS[7], KEYS[8])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
"""


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
        self._url = redact_url(url)
        self._prefix = prefix
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            retry=Retry(NoBackoff(), retries),
        )
        self._server = _Server(self._client, self._url, prefix)
        self._point: redis.Redis | None = None  # see _point_client
        self._point_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisRecStore({self._url!r}, prefix={self._prefix!r})"

    @property
    def prefix(self) -> str:
        return self._prefix

    def _point_client(self) -> redis.Redis:
        """A client that keeps one connection for the API's hot read (one HGET per request).

        The pooled client checks a connection out and in around every command (a poll syscall and
        bookkeeping): ~40 us of CPU per command here, a third of a request's cost. It is built on
        first use, since building a single-connection client connects.
        """
        point = self._point
        if point is None:
            with self._point_lock:
                if self._point is None:
                    self._point = redis.Redis(
                        connection_pool=self._client.connection_pool, single_connection_client=True
                    )
                point = self._point
        return point

    def ping(self) -> None:
        with self._server.guard():
            self._client.ping()

    def close(self) -> None:
        with self._point_lock:
            if self._point is not None:
                self._point.close()
                self._point = None
        self._client.close()

    # ----- publishing -----
    def begin(self, meta: VersionMeta, films: Sequence[str]) -> VersionWriter:
        with self._server.guard():
            if (
                self._client.hexists(self._server.meta_key, meta.version)
                or self._client.zscore(self._server.pending_key, meta.version) is not None
            ):
                raise ValueError(f"version {meta.version} already exists")
            meta = pending_meta(meta, films)
            if not self._client.zadd(self._server.pending_key, {meta.version: time.time()}, nx=True):
                raise ValueError(f"version {meta.version} already exists")
            self._client.set(self._server.key(meta.version, "films"), json.dumps(list(films)))
        return _RedisVersionWriter(meta, self._server)

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
            self._client.hset(self._server.key(meta.version, "users"), user_id + OVERLAY_SUFFIX, record)

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
        current = self._current_name()
        doomed = prunable(
            self.versions(), current, self._zset(self._server.retired_key), self.pending(), keep, grace_s, now
        )
        for name in doomed:
            self._server.delete(name)
        return doomed

    def clear(self) -> None:
        with self._server.guard():
            self._client.unlink(self._server.current_key)
            names = {_text(name) for name in self._client.hkeys(self._server.meta_key)}
            names |= set(self._zset(self._server.pending_key)) | set(self._zset(self._server.retired_key))
            keys = [self._server.key(name, part) for name in sorted(names) for part in VERSION_PARTS]
            pattern = f"{_glob_escape(self._prefix)}:v:*"
            keys.extend(_text(key) for key in self._client.scan_iter(match=pattern, count=SCAN_COUNT))
            keys.extend([self._server.meta_key, self._server.pending_key, self._server.retired_key])
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), SCAN_COUNT):
                self._client.unlink(*unique[start : start + SCAN_COUNT])

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
            overlay, record = self._point_client().hmget(
                self._server.key(version, "users"), [user_id + OVERLAY_SUFFIX, user_id]
            )
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


class _Server:
    """The pooled client, its scripts and the key names: what the store and its writers share."""

    def __init__(self, client: redis.Redis, url: str, prefix: str) -> None:
        self.client = client
        self.url = url
        self.prefix = prefix
        self.meta_key = f"{prefix}:meta"
        self.current_key = f"{prefix}:current"
        self.retired_key = f"{prefix}:retired"
        self.pending_key = f"{prefix}:pending"
        self._commit = client.register_script(_COMMIT)
        self._set_current = client.register_script(_SET_CURRENT)
        self._delete = client.register_script(_DELETE)

    def key(self, version: str, part: str) -> str:
        return f"{self.prefix}:v:{version}:{part}"

    @contextmanager
    def guard(self) -> Iterator[None]:
        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable(f"Redis at {self.url} is unreachable: {exc}") from exc

    def commit(self, meta: VersionMeta) -> None:
        """Store ``meta``, clear it from pending, retire the old current and point at it: one step."""
        keys = [self.meta_key, self.pending_key, self.current_key, self.retired_key]
        with self.guard():
            done = self._commit(keys=keys, args=[meta.version, meta_to_json(meta), repr(time.time())])
        if not done:
            raise ValueError(f"version {meta.version} is not pending (aborted, pruned or already committed)")

    def set_current(self, version: str, retired_at: float) -> None:
        """Retire the old current at ``retired_at``, un-retire and point at ``version``: one step."""
        keys = [self.meta_key, self.current_key, self.retired_key]
        with self.guard():
            done = self._set_current(keys=keys, args=[version, repr(retired_at)])
        if not done:
            raise UnknownVersion(version)

    def delete(self, version: str) -> None:
        """Remove every key of the version (pending or committed, never current): one step."""
        keys = [self.meta_key, self.current_key, self.retired_key, self.pending_key]
        keys += [self.key(version, part) for part in VERSION_PARTS]
        with self.guard():
            done = self._delete(keys=keys, args=[version])
        if not done:
            raise ValueError(f"version {version} is current and cannot be deleted")


class _RedisVersionWriter(PendingVersion):
    """A pending version's keys; records go in pipelined HSETs."""

    def __init__(self, meta: VersionMeta, server: _Server) -> None:
        super().__init__(meta)
        self._server = server

    def _store_records(self, records: list[tuple[str, bytes]]) -> None:
        server, version = self._server, self.meta.version
        key = server.key(version, "users")
        with server.guard():
            for first in range(0, len(records), PIPELINE_RECORDS):
                batch = records[first : first + PIPELINE_RECORDS]
                pipe = server.client.pipeline(transaction=False)
                for start in range(0, len(batch), HSET_CHUNK):
                    chunk = batch[start : start + HSET_CHUNK]
                    mapping = dict(chunk)
                    if len(mapping) != len(chunk):
                        raise ValueError(f"a user id appears twice in one block of version {version}")
                    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                added = sum(int(n) for n in pipe.execute())
                if added != len(batch):
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
