"""Fixtures every test folder may use: the development machine's real Redis, under a key prefix of
the test's own (the server is shared, so every key under the prefix is deleted afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from recsys_common.settings import CommonSettings

#: The development machine's Redis; RECSYS_REDIS_URL overrides it.
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = CommonSettings().redis_url or DEFAULT_TEST_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"these tests need Redis at {url} (set RECSYS_REDIS_URL): {exc}")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test only; every key under it (``prefix:*``, and the RecStore's control
    keys ``{prefix}:*``) is deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [
            key for match in (f"{prefix}:*", f"{{{prefix}}}:*") for key in client.scan_iter(match=match, count=1000)
        ]
        if keys:
            client.unlink(*keys)
    finally:
        client.close()
