"""A hung Redis (SIGSTOP) while orchestrators poll readiness: recommendation requests keep answering
quickly from the snapshot. Readiness asks the store in a worker thread, at most once per TTL, and
not at all while the breaker is open. The measured latencies are in
benchmarks/results/recommendations_api.json (``brownout``); this test only holds a generous bound."""

from __future__ import annotations

import random
import threading
import time

import httpx
import numpy as np
import pytest

from recommendations_api.bootstrap import create_app
from recommendations_api.settings import ApiSettings
from recsys_common.adapters.redis_recstore import RedisRecStore
from tests.servers import serve_in_thread

pytestmark = pytest.mark.integration

USERS = 50
REQUESTS = 300
POLLERS = 2
#: Generous: a healthy request takes about a millisecond; readiness on the event loop made them 200-1,000 ms.
P95_BOUND_S = 0.1
CLIENT_TIMEOUT_S = 5.0
JOIN_TIMEOUT_S = 10.0


def poll_readiness(base_url: str, stop: threading.Event, answers: list[int]) -> None:
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT_S) as client:
        while not stop.is_set():
            answers.append(client.get("/health/ready").status_code)


def test_a_hung_redis_does_not_stall_requests_while_readiness_is_polled(private_redis, publish, tmp_path):
    personal = {str(user): ([user % 30, 31, 32], [[1], [2]]) for user in range(USERS)}
    writer = RedisRecStore(private_redis.url, prefix="brownout")
    publish(writer, "v1", personal)
    writer.close()
    settings = ApiSettings(data_dir=tmp_path, redis_url=private_redis.url, redis_prefix="brownout")
    rng = random.Random(7)
    stop = threading.Event()
    statuses: list[int] = []
    pollers = []
    with serve_in_thread(create_app(settings), lifespan="on") as base_url, httpx.Client(base_url=base_url) as client:
        assert client.get("/health/ready").status_code == 200
        assert client.get("/api/v1/users/1/recommendations").json()["source"] == "personal"
        pollers = [
            threading.Thread(target=poll_readiness, args=(base_url, stop, statuses), daemon=True)
            for _ in range(POLLERS)
        ]
        for poller in pollers:
            poller.start()
        private_redis.freeze()
        try:
            latencies, sources = [], []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = client.get(f"/api/v1/users/{rng.randrange(USERS)}/recommendations", timeout=CLIENT_TIMEOUT_S)
                latencies.append(time.perf_counter() - started)
                sources.append(response.json()["source"])
        finally:
            private_redis.thaw()
            stop.set()
            for poller in pollers:
                poller.join(JOIN_TIMEOUT_S)
    assert sources.count("fallback") > REQUESTS // 2, "the store was not hung: the test measured nothing"
    assert 503 in statuses, "readiness never noticed the hung store"
    p95 = float(np.percentile(latencies, 95))
    assert p95 < P95_BOUND_S, f"p95 {p95 * 1000:.0f} ms while Redis hung and readiness was polled"
