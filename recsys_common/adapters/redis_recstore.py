"""RecStore in Redis: the production adapter.

Keys, all under a prefix ``p`` (settings ``redis_prefix``):

- ``{p}:v:{version}:users``  HASH user id -> record bytes (see ``recsys_common.listcodec``)
- ``{p}:v:{version}:overlays`` HASH user id -> record bytes written by the online loop
- ``{p}:v:{version}:films``  STRING, JSON list of film ids (index -> film id)
- ``{p}:v:{version}:cold``   STRING, JSON cold-start lists
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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from recsys_common.ports.recstore import RecStore, StoreUnavailable, UnknownVersion, VersionMeta

DEFAULT_SOCKET_TIMEOUT_S = 0.5
DEFAULT_CONNECT_TIMEOUT_S = 0.5
#: One immediate retry: a pooled connection that died with a Redis restart is re-opened once.
DEFAULT_RETRIES = 1
#: Keys per SCAN step and per UNLINK command when clearing the store.
SCAN_COUNT = 1_000
#: Version key parts (``{p}:v:{version}:{part}``).
VERSION_PARTS = ("users", "overlays", "films", "cold")
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

# KEYS: meta, current, retired, pending, users, films, cold, overlays. ARGV: version.
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


class RedisRecStore(RecStore):
    """RecStore over Redis (redis-py). Building it does not connect."""

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
        self._point: redis.Redis | None = None  # see _point_client
        self._point_lock = threading.Lock()
        self._commit_script = self._client.register_script(_COMMIT)
        self._set_current_script = self._client.register_script(_SET_CURRENT)
        self._delete_script = self._client.register_script(_DELETE)
        self._meta_key = f"{prefix}:meta"
        self._current_key = f"{prefix}:current"
        self._retired_key = f"{prefix}:retired"
        self._pending_key = f"{prefix}:pending"

    def __repr__(self) -> str:
        return f"RedisRecStore({self._url!r}, prefix={self._prefix!r})"

    @property
    def prefix(self) -> str:
        return self._prefix

    def _key(self, version: str, part: str) -> str:
        return f"{self._prefix}:v:{version}:{part}"

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise StoreUnavailable(f"Redis at {self._url} is unreachable: {exc}") from exc

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
        with self._guard():
            self._client.ping()

    def close(self) -> None:
        with self._point_lock:
            if self._point is not None:
                self._point.close()
                self._point = None
        self._client.close()

    # ----- primitives: writing -----
    def _start_pending(self, version: str, started_at: float) -> None:
        with self._guard():
            added = self._client.zadd(self._pending_key, {version: started_at}, nx=True)
        if not added:
            raise ValueError(f"version {version} already exists")

    def _put_films(self, version: str, films: list[str]) -> None:
        with self._guard():
            self._client.set(self._key(version, "films"), json.dumps(films))

    def _put_records(self, version: str, records: Iterable[tuple[str, bytes]]) -> None:
        key = self._key(version, "users")
        iterator = iter(records)
        with self._guard():
            while batch := list(islice(iterator, PIPELINE_RECORDS)):
                pipe = self._client.pipeline(transaction=False)
                for start in range(0, len(batch), HSET_CHUNK):
                    chunk = batch[start : start + HSET_CHUNK]
                    mapping = dict(chunk)
                    if len(mapping) != len(chunk):
                        raise ValueError(f"a user id appears twice in one block of version {version}")
                    pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
                added = sum(int(n) for n in pipe.execute())
                if added != len(batch):
                    raise ValueError(f"{len(batch) - added} user ids were already stored in version {version}")

    def _put_cold_start(self, version: str, text: str) -> None:
        with self._guard():
            self._client.set(self._key(version, "cold"), text)

    def _commit(self, meta: VersionMeta) -> None:
        keys = [self._meta_key, self._pending_key, self._current_key, self._retired_key]
        with self._guard():
            done = self._commit_script(keys=keys, args=[meta.version, meta.to_json(), repr(time.time())])
        if not done:
            raise ValueError(f"version {meta.version} is not pending (aborted, pruned or already committed)")

    def _set_current(self, version: str, retired_at: float) -> None:
        keys = [self._meta_key, self._current_key, self._retired_key]
        with self._guard():
            done = self._set_current_script(keys=keys, args=[version, repr(retired_at)])
        if not done:
            raise UnknownVersion(version)

    def _delete(self, version: str) -> None:
        keys = [
            self._meta_key,
            self._current_key,
            self._retired_key,
            self._pending_key,
            self._key(version, "users"),
            self._key(version, "films"),
            self._key(version, "cold"),
            self._key(version, "overlays"),
        ]
        with self._guard():
            done = self._delete_script(keys=keys, args=[version])
        if not done:
            raise ValueError(f"version {version} is current and cannot be deleted")

    def _clear(self) -> None:
        with self._guard():
            self._client.unlink(self._current_key)
            names = {_text(name) for name in self._client.hkeys(self._meta_key)}
            names |= set(self._zset(self._pending_key)) | set(self._zset(self._retired_key))
            keys = [self._key(name, part) for name in sorted(names) for part in VERSION_PARTS]
            pattern = f"{_glob_escape(self._prefix)}:v:*"
            keys.extend(_text(key) for key in self._client.scan_iter(match=pattern, count=SCAN_COUNT))
            keys.extend([self._meta_key, self._pending_key, self._retired_key])
            unique = list(dict.fromkeys(keys))
            for start in range(0, len(unique), SCAN_COUNT):
                self._client.unlink(*unique[start : start + SCAN_COUNT])

    # ----- primitives: reading -----
    def _current_name(self) -> str | None:
        with self._guard():
            name = self._client.get(self._current_key)
        return None if name is None else _text(name)

    def _meta(self, version: str) -> VersionMeta | None:
        with self._guard():
            text = self._client.hget(self._meta_key, version)
        return None if text is None else VersionMeta.from_json(_text(text))

    def _all_meta(self) -> list[VersionMeta]:
        with self._guard():
            raw: dict[Any, Any] = self._client.hgetall(self._meta_key)
        return [VersionMeta.from_json(_text(text)) for text in raw.values()]

    def _films(self, version: str) -> list[str]:
        with self._guard():
            text = self._client.get(self._key(version, "films"))
        if text is None:
            raise UnknownVersion(version)
        films: list[str] = json.loads(text)
        return films

    def _user_record(self, version: str, user_id: str) -> tuple[bytes, bool] | None:
        with self._guard():
            pipe = self._point_client().pipeline(transaction=False)
            pipe.hget(self._key(version, "overlays"), user_id)
            pipe.hget(self._key(version, "users"), user_id)
            overlay, record = pipe.execute()
        if overlay is not None:
            return _bytes(overlay), True
        return None if record is None else (_bytes(record), False)

    def _put_overlay(self, version: str, user_id: str, record: bytes) -> None:
        with self._guard():
            if not self._client.hexists(self._meta_key, version):
                raise UnknownVersion(version)
            self._client.hset(self._key(version, "overlays"), user_id, record)

    def _cold_start(self, version: str) -> str | None:
        with self._guard():
            text = self._client.get(self._key(version, "cold"))
        return None if text is None else _text(text)

    def _retired(self) -> dict[str, float]:
        return self._zset(self._retired_key)

    def _pending(self) -> dict[str, float]:
        return self._zset(self._pending_key)

    def _zset(self, key: str) -> dict[str, float]:
        with self._guard():
            pairs: list[tuple[Any, Any]] = self._client.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
        return {_text(name): float(score) for name, score in pairs}


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern (``*``, ``?``, ``[``, ``]`` and ``\\`` escaped)."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def _bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
