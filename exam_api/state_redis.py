"""ExamStore in Redis: the production adapter.

Keys, all under a prefix ``p`` (settings ``exam_state_prefix``; never the RecStore's prefix):

- ``{p}:items``              HASH item id -> JSON list of genres
- ``{p}:u:{user}:shown``     SET of item ids shown to the user
- ``{p}:u:{user}:interacted`` SET of item ids the user interacted with
- ``{p}:counts``             HASH item id -> interactions
- ``{p}:cleared_at``         STRING, unix time of the last cleanup
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import redis

from exam_api.state import ExamStore, ExamStoreUnavailable, UserRecord
from recsys_common.settings import redact_url

SOCKET_TIMEOUT_S = 1.0
#: Keys per SCAN step and per UNLINK command when clearing.
SCAN_COUNT = 1_000
#: Fields per HSET command when adding items.
HSET_CHUNK = 5_000


class RedisExamStore(ExamStore):
    """Building it does not connect; connection errors surface as ExamStoreUnavailable."""

    def __init__(self, url: str, prefix: str) -> None:
        if not prefix:
            raise ValueError("the exam store's Redis key prefix must not be empty")
        self._url = redact_url(url)
        self._prefix = prefix
        self._client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=SOCKET_TIMEOUT_S
        )

    def __repr__(self) -> str:
        return f"RedisExamStore({self._url!r}, prefix={self._prefix!r})"

    def _key(self, *parts: object) -> str:
        return ":".join([self._prefix, *map(str, parts)])

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except redis.exceptions.RedisError as exc:
            raise ExamStoreUnavailable(f"exam store in Redis at {self._url}: {exc}") from exc

    def items(self) -> dict[int, tuple[str, ...]]:
        with self._guard():
            raw: dict[Any, Any] = self._client.hgetall(self._key("items"))
        return {int(item): tuple(json.loads(genres)) for item, genres in raw.items()}

    def put_items(self, items: Mapping[int, Sequence[str]]) -> None:
        pairs = [(str(item), json.dumps(list(genres))) for item, genres in items.items()]
        with self._guard():
            pipe = self._client.pipeline(transaction=True)
            for start in range(0, len(pairs), HSET_CHUNK):
                pipe.hset(self._key("items"), mapping=dict(pairs[start : start + HSET_CHUNK]))
            pipe.execute()

    def user(self, user_id: int) -> UserRecord:
        with self._guard():
            pipe = self._client.pipeline(transaction=False)
            pipe.smembers(self._key("u", user_id, "shown"))
            pipe.smembers(self._key("u", user_id, "interacted"))
            shown, interacted = pipe.execute()
        return UserRecord({int(i) for i in shown}, {int(i) for i in interacted})

    def add_shown(self, user_id: int, items: Sequence[int]) -> None:
        if items:
            with self._guard():
                self._client.sadd(self._key("u", user_id, "shown"), *items)

    def add_interactions(self, user_id: int, items: Sequence[int]) -> None:
        if not items:
            return
        with self._guard():
            pipe = self._client.pipeline(transaction=True)
            pipe.sadd(self._key("u", user_id, "interacted"), *items)
            for item in items:
                pipe.hincrby(self._key("counts"), str(item), 1)
            pipe.execute()

    def counts(self) -> dict[int, int]:
        with self._guard():
            raw: dict[Any, Any] = self._client.hgetall(self._key("counts"))
        return {int(item): int(n) for item, n in raw.items()}

    def cleared_at(self) -> float | None:
        with self._guard():
            value = self._client.get(self._key("cleared_at"))
        return None if value is None else float(value)

    def clear(self, at: float) -> None:
        pattern = f"{_glob_escape(self._prefix)}:*"
        with self._guard():
            keys = list(self._client.scan_iter(match=pattern, count=SCAN_COUNT))
            for start in range(0, len(keys), SCAN_COUNT):
                self._client.unlink(*keys[start : start + SCAN_COUNT])
            self._client.set(self._key("cleared_at"), repr(at))

    def ping(self) -> None:
        with self._guard():
            self._client.ping()

    def close(self) -> None:
        self._client.close()


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a Redis glob pattern."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
