"""``python -m recommendations_api`` as an operator runs it: uvicorn, 2 workers, Redis from settings."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from recsys_common.adapters.redis_recstore import RedisRecStore

pytestmark = pytest.mark.integration

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
REQUESTS = 40
WORKERS = 2


def worker_pids(metrics_dir: Path) -> set[str]:
    """Pids of the processes that wrote metrics files (``<kind>_<pid>.db``)."""
    return {match.group(1) for path in metrics_dir.glob("*.db") if (match := re.search(r"_(\d+)\.db$", path.name))}


def is_ready(client: httpx.Client) -> bool:
    try:
        return client.get("/health/ready").status_code == 200
    except httpx.TransportError:
        return False  # not listening yet


def test_serves_with_two_workers_and_merges_their_metrics(redis_url, redis_prefix, publish, films, free_port, tmp_path):
    publish(RedisRecStore(redis_url, prefix=redis_prefix), "v1", {"alice": ([1, 2, 3], [[4], [5]])})
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    env = {
        **os.environ,
        "RECSYS_REDIS_URL": redis_url,
        "RECSYS_REDIS_PREFIX": redis_prefix,
        "RECSYS_DATA_DIR": str(tmp_path),
        "RECSYS_API_PORT": str(port),
        "RECSYS_API_WORKERS": str(WORKERS),
        "RECSYS_API_LOG_LEVEL": "warning",
        "RECSYS_METRICS_MULTIPROC_DIR": str(metrics_dir),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen([sys.executable, "-m", "recommendations_api"], env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=5.0) as client:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                assert server.poll() is None, "the server exited during start-up"
                if is_ready(client):
                    break
                if time.monotonic() > deadline:
                    pytest.fail(f"the API did not become ready on {base} within {START_TIMEOUT_S} s")
                time.sleep(0.1)
            # each worker publishes the served version at start-up, into a file named after its pid
            while len(worker_pids(metrics_dir)) < WORKERS:
                assert time.monotonic() < deadline, f"fewer than {WORKERS} workers started: {worker_pids(metrics_dir)}"
                time.sleep(0.1)
            for _ in range(REQUESTS):  # a connection each, so both workers answer some of them
                body = client.get("/api/v1/users/alice/recommendations", headers={"Connection": "close"}).json()
                assert (body["source"], body["film_ids"]) == ("personal", films[1:4])
            text = client.get("/metrics").text
        # /metrics adds up the files of every worker (a single worker's count would fall short)
        route = 'route="/api/v1/users/{user_id}/recommendations"'
        assert f'recsys_api_requests_total{{method="GET",{route},status="200"}} {REQUESTS}.0' in text
        assert f'recsys_api_answers_total{{source="personal"}} {REQUESTS}.0' in text
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
