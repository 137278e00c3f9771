"""Load test of the Recommendations API on loopback: 2 uvicorn workers over Redis.

1. publishes a version of 10,000 users (MovieLens-100K's 1,682 films, 100 must-watch + 18 genres
   x 20 per user) under a key prefix of its own, deleted at the end;
2. starts ``python -m recommendations_api`` (uvicorn, 2 workers) on a free loopback port, and the
   reference next to it: a bare FastAPI endpoint on the same path doing one Redis read (HGET of the
   user's record in their bucket hash, the route's only store read) and returning the raw bytes,
   served by the same ``recommendations_api.__main__.serve`` (same workers, same uvicorn options);
3. max throughput: ``wrk`` (closed loop, a Lua script picks random user ids), bounded in time, on
   the route and the reference in alternating rounds with the same wrk settings; the ratio of their
   requests/s is the route's cost over FastAPI's own floor;
4. latency at a fixed 1,000 requests/s: an open-loop asyncio generator (Debian ships no ``wrk2``)
   that schedules every request at its own time and measures from that time, so a stalled server
   is charged for the requests that waited (no coordinated omission);
5. brownout: a private redis-server is frozen (SIGSTOP) while two clients poll ``/health/ready``;
   one client's sequential recommendation requests are timed before (reference) and during;
6. writes the numbers, the targets and the machine (CPU, cores, RAM, load) to
   ``benchmarks/results/recommendations_api.json``.

Run: ``PYTHONPATH=. .venv/bin/python -m benchmarks.bench_recommendations_api`` (needs Redis, ``wrk``
and ``redis-server``). Targets: >= 5,000 requests/s; p99 <= 10 ms at 1,000 requests/s; the route
>= 0.85 x the reference's requests/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import redis
import typer
from fastapi import FastAPI, Response
from redis.backoff import NoBackoff
from redis.retry import Retry

from recommendations_api.settings import ApiSettings
from recsys_common.adapters.redis_recstore import DEFAULT_RETRIES, RedisRecStore, user_bucket
from recsys_common.domain import ColdStartLists
from recsys_common.ids import film_id_for
from recsys_common.listcodec import ListLayout
from recsys_common.machine import machine_info
from recsys_common.ports.recstore import VersionMeta
from recsys_common.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "recommendations_api.json"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

USERS = 10_000
FILMS = 1_682
GENRES = 18
MUST_WATCH_LEN = 100
GENRE_LEN = 20
COLD_LEN = 100
PUBLISH_BLOCK = 2_000
LIMIT = 20

WORKERS = 2
DURATION_S = 10
WARMUP_S = 2
FIXED_RATE = 1_000
WRK_THREADS = 2
WRK_CONNECTIONS = 64
OPEN_LOOP_CONNECTIONS = 64
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 5.0
US_PER_S = 1_000_000
MS_PER_S = 1_000

ROUNDS = 3
BROWNOUT_USERS = 1_000
BROWNOUT_REQUESTS = 1_000
BROWNOUT_POLLERS = 2
BROWNOUT_PREFIX = "brownout"
BROWNOUT_SEED = 11
REDIS_START_TIMEOUT_S = 10.0
REDIS_PING_TIMEOUT_S = 0.2
REDIS_POLL_S = 0.02

TARGET_MAX_RPS = 5_000
TARGET_P99_MS = 10.0
TARGET_ROUTE_VS_BARE = 0.85

#: The reference app (see ``bare_app``), served by the API's own ``serve``.
BARE_APP = "benchmarks.bench_recommendations_api:bare_app"
ROUTE_APP = "recommendations_api.bootstrap:create_served_app"
HOT_PATH = "/api/v1/users/{user_id}/recommendations"
#: The reference has no health route: it is up once it answers a user.
BARE_READY_PATH = "/api/v1/users/0/recommendations"

WRK_SCRIPT = """
local n_users = 10000
local limit = 20

function init(args)
  n_users = tonumber(args[1])
  limit = tonumber(args[2])
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
  local user = math.random(0, n_users - 1)
  return wrk.format("GET", "/api/v1/users/" .. user .. "/recommendations?limit=" .. limit)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


# ----- machine -----
def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# ----- the reference: FastAPI's floor for one Redis read -----
def bare_app() -> FastAPI:
    """A bare FastAPI endpoint on the hot route's path doing one Redis read: HGET of the user's record
    in their bucket of the serving version (the route's only store read), over a single-connection
    client as the RecStore's hot read uses, the raw bytes back. No validation, no middleware, no
    decoding."""
    settings = ApiSettings()
    url = settings.redis_url or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(
        url,
        socket_timeout=settings.redis_socket_timeout_ms / MS_PER_S,
        socket_connect_timeout=settings.redis_connect_timeout_ms / MS_PER_S,
        retry=Retry(NoBackoff(), DEFAULT_RETRIES),
        single_connection_client=True,
    )
    version = client.get(f"{{{settings.redis_prefix}}}:current")
    if version is None:
        raise RuntimeError(f"nothing is published under {settings.redis_prefix}")
    name = version.decode() if isinstance(version, bytes) else str(version)
    users_key = f"{settings.redis_prefix}:v:{name}:users:{{}}"
    app = FastAPI()

    @app.get(HOT_PATH)
    async def bare(user_id: str) -> Response:
        record = client.hget(users_key.format(user_bucket(user_id)), user_id)
        return Response(record or b"", media_type="application/octet-stream")

    return app


# ----- data -----
def publish(redis_url: str, prefix: str, users: int) -> tuple[VersionMeta, float]:
    """A realistic version: random lists over the MovieLens-100K catalogue size. Returns the
    version and the seconds the RecStore writer took (list generation excluded)."""
    genres = [f"genre{g:02d}" for g in range(GENRES)]
    films = [film_id_for(f"ml100k:{i}") for i in range(1, FILMS + 1)]
    layout = ListLayout.for_catalogue(FILMS, MUST_WATCH_LEN, GENRE_LEN, genres)
    meta = VersionMeta(f"bench-{uuid.uuid4().hex[:8]}", "bench-model", datetime.now(UTC).isoformat(), layout)
    rng = np.random.default_rng(42)
    blocks = []
    for start in range(0, users, PUBLISH_BLOCK):
        n = min(PUBLISH_BLOCK, users - start)
        must_watch = np.argsort(rng.random((n, FILMS)), axis=1)[:, :MUST_WATCH_LEN]
        by_genre = rng.integers(0, FILMS, size=(n, GENRES, GENRE_LEN))
        blocks.append(([str(start + i) for i in range(n)], must_watch, by_genre))
    by_genre_cold = {g: tuple(films[i] for i in rng.choice(FILMS, GENRE_LEN, replace=False)) for g in genres}
    cold = ColdStartLists(tuple(films[:COLD_LEN]), by_genre_cold)
    store = RedisRecStore(redis_url, prefix=prefix, socket_timeout_s=10.0)
    started = time.perf_counter()
    writer = store.begin(meta, films)
    for user_ids, must_watch, by_genre in blocks:
        writer.put_block(user_ids, must_watch, by_genre)
    writer.put_cold_start(cold)
    committed = writer.commit()
    seconds = time.perf_counter() - started
    store.close()
    return committed, seconds


def delete_prefix(redis_url: str, prefix: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [
            key for match in (f"{prefix}:*", f"{{{prefix}}}:*") for key in client.scan_iter(match=match, count=1000)
        ]
        if keys:
            client.unlink(*keys)
        return len(keys)
    finally:
        client.close()


# ----- server -----
@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_server(
    redis_url: str, prefix: str, workdir: Path, workers: int, app: str = ROUTE_APP, ready_path: str = "/health/ready"
) -> Server:
    """Serve ``app`` with ``recommendations_api.__main__.serve`` (the production server) on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "RECSYS_REDIS_URL": redis_url,
        "RECSYS_REDIS_PREFIX": prefix,
        "RECSYS_DATA_DIR": str(workdir),
        "RECSYS_API_HOST": "127.0.0.1",
        "RECSYS_API_PORT": str(port),
        "RECSYS_API_WORKERS": str(workers),
        "RECSYS_API_LOG_LEVEL": "warning",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log_path = workdir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", f"from recommendations_api.__main__ import serve; serve({app!r})"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_S) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the API exited at start-up; see {log_path}:\n{log_path.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if client.get(ready_path).status_code == httpx.codes.OK:
                    return server
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the API was not ready within {START_TIMEOUT_S} s; see {log_path}")


def group_cpu_s(group: int) -> float:
    """CPU seconds (user + system) used so far by the processes of a process group (the server and
    its workers): per-request CPU is a cost that other load on the machine does not distort."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
                total += int(fields[11]) + int(fields[12])
    return total / ticks


# ----- max throughput: wrk -----
def run_wrk(
    base_url: str, users: int, duration_s: int, threads: int, connections: int, workdir: Path
) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    script = workdir / "random_users.lua"
    script.write_text(WRK_SCRIPT)
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        f"{int(REQUEST_TIMEOUT_S)}s",
        "-s",
        str(script),
        base_url,
        "--",
        str(users),
        str(LIMIT),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration_s + 30).stdout
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    raw: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
    seconds = raw["duration_us"] / US_PER_S
    errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
    return {
        "tool": "wrk",
        "threads": threads,
        "connections": connections,
        "duration_s": round(seconds, 2),
        "requests": raw["requests"],
        "errors": errors,
        "error_detail": {k.removeprefix("errors_"): v for k, v in raw.items() if k.startswith("errors_")},
        "rps": round(raw["requests"] / seconds, 1),
        "latency_ms": {
            "p50": raw["p50_us"] / MS_PER_S,
            "p90": raw["p90_us"] / MS_PER_S,
            "p99": raw["p99_us"] / MS_PER_S,
            "max": raw["max_us"] / MS_PER_S,
            "mean": round(raw["mean_us"] / MS_PER_S, 3),
        },
    }


# ----- fixed rate: open-loop generator -----
@dataclass
class OpenLoopResult:
    scheduled: int = 0
    latencies_s: list[float] = field(default_factory=list)  # from each request's scheduled time
    service_s: list[float] = field(default_factory=list)  # from the moment it was written
    errors: dict[str, int] = field(default_factory=dict)
    max_lag_s: float = 0.0  # how late the generator itself sent a request

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def open_loop(host: str, port: int, users: int, rate: int, duration_s: float, connections: int) -> OpenLoopResult:
    result = OpenLoopResult()
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    rng = random.Random(7)

    async def one(scheduled: float, user: int) -> None:
        reader, writer = await pool.get()
        try:
            request = (
                f"GET /api/v1/users/{user}/recommendations?limit={LIMIT} HTTP/1.1\r\nHost: {host}\r\n\r\n"
            ).encode()
            sent = time.perf_counter()
            writer.write(request)
            status = await asyncio.wait_for(_read_response(reader), REQUEST_TIMEOUT_S)
            done = time.perf_counter()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
            result.error(type(exc).__name__)
            writer.close()
            try:  # replace the broken connection; a dead one goes back to fail (and retry) next time
                reader, writer = await asyncio.open_connection(host, port)
            except OSError as reconnect:
                result.error(f"reconnect {type(reconnect).__name__}")
            return
        finally:
            pool.put_nowait((reader, writer))
        if status != httpx.codes.OK:
            result.error(f"status {status}")
        result.latencies_s.append(done - scheduled)
        result.service_s.append(done - sent)

    total = int(rate * duration_s)
    start = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.max_lag_s = max(result.max_lag_s, time.perf_counter() - scheduled)
        tasks.append(asyncio.create_task(one(scheduled, rng.randrange(users))))
    result.scheduled = total
    await asyncio.gather(*tasks)
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return result


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    values = np.array(samples) * MS_PER_S
    return {
        "p50": round(float(np.percentile(values, 50)), 3),
        "p90": round(float(np.percentile(values, 90)), 3),
        "p99": round(float(np.percentile(values, 99)), 3),
        "p999": round(float(np.percentile(values, 99.9)), 3),
        "max": round(float(values.max()), 3),
    }


def run_fixed_rate(base_url: str, users: int, rate: int, duration_s: float, connections: int) -> dict[str, Any]:
    parts = httpx.URL(base_url)
    try:
        import uvloop

        runner: Any = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        runner, loop_name = asyncio.run, "asyncio"
    started = time.perf_counter()
    result: OpenLoopResult = runner(open_loop(parts.host, parts.port or 80, users, rate, duration_s, connections))
    elapsed = time.perf_counter() - started
    return {
        "tool": f"open-loop asyncio generator ({loop_name}), latency measured from each request's scheduled time",
        "target_rps": rate,
        "connections": connections,
        "duration_s": round(elapsed, 2),
        "requests": result.scheduled,
        "completed": len(result.latencies_s),
        "errors": result.errors,
        "achieved_rps": round(len(result.latencies_s) / elapsed, 1),
        "generator_max_lag_ms": round(result.max_lag_s * MS_PER_S, 3),
        "latency_ms": percentiles_ms(result.latencies_s),
        "service_time_ms": percentiles_ms(result.service_s),
    }


# ----- route vs reference -----
def run_side_by_side(
    route: Server, bare: Server, users: int, duration_s: int, rounds: int, workdir: Path
) -> dict[str, Any]:
    """wrk on the route and on the reference in alternating rounds (same settings), after a warm-up of each."""
    for server in (route, bare):
        run_wrk(server.base_url, users, WARMUP_S, WRK_THREADS, WRK_CONNECTIONS, workdir)
    runs: dict[str, list[dict[str, Any]]] = {"route": [], "bare": []}
    for index in range(rounds):
        for name, server in (("route", route), ("bare", bare)):
            load = load_average()
            cpu_before = group_cpu_s(server.process.pid)
            result = run_wrk(server.base_url, users, duration_s, WRK_THREADS, WRK_CONNECTIONS, workdir)
            cpu_us = (group_cpu_s(server.process.pid) - cpu_before) * US_PER_S / max(result["requests"], 1)
            runs[name].append(
                {
                    "round": index + 1,
                    "load_average_before": load,
                    "server_cpu_us_per_request": round(cpu_us, 1),
                    **result,
                }
            )
            rps, latency = result["rps"], result["latency_ms"]
            print(f"round {index + 1} {name}: {rps:,.0f} requests/s, {cpu_us:.0f} us CPU/request, latency {latency}")
    totals = {
        name: {
            "rps": round(sum(r["requests"] for r in results) / sum(r["duration_s"] for r in results), 1),
            "p50_ms_median": float(np.median([r["latency_ms"]["p50"] for r in results])),
            "p99_ms_median": float(np.median([r["latency_ms"]["p99"] for r in results])),
            "errors": sum(r["errors"] for r in results),
            "server_cpu_us_per_request_median": float(np.median([r["server_cpu_us_per_request"] for r in results])),
        }
        for name, results in runs.items()
    }
    cpu_ratio = totals["bare"]["server_cpu_us_per_request_median"] / totals["route"]["server_cpu_us_per_request_median"]
    per_round = [
        round(route_run["rps"] / bare_run["rps"], 3)
        for route_run, bare_run in zip(runs["route"], runs["bare"], strict=True)
    ]
    return {
        "tool": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{duration_s}s, one Lua script, {rounds} alternating rounds",
        "route": f"GET {HOT_PATH}?limit={LIMIT} (python -m recommendations_api)",
        "bare": f"GET {HOT_PATH} (bare FastAPI: one HGET of the user's record, raw bytes)",
        "totals": totals,
        "ratio": round(totals["route"]["rps"] / totals["bare"]["rps"], 3),
        "ratio_per_round": per_round,
        "cpu_ratio": round(cpu_ratio, 3),
        "cpu_ratio_means": "server CPU per request of the reference / of the route (1.0: the route costs no more)",
        "rounds": runs,
    }


# ----- brownout: a hung Redis while readiness is polled -----
class PrivateRedis:
    """A redis-server of the benchmark's own (never the shared one), without persistence."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: apt-get install -y redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=REDIS_PING_TIMEOUT_S)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_S
        try:
            while True:
                with contextlib.suppress(redis.exceptions.ConnectionError):
                    client.ping()
                    return
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"redis-server did not answer on port {self.port}")
                time.sleep(REDIS_POLL_S)
        finally:
            client.close()

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        self.process.wait(STOP_TIMEOUT_S)


def timed_requests(base_url: str, users: int, count: int, rng: random.Random) -> tuple[list[float], dict[str, int]]:
    """``count`` sequential recommendation requests of random users: their latencies and answers by source."""
    latencies: list[float] = []
    sources: dict[str, int] = {}
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
        for _ in range(count):
            started = time.perf_counter()
            source = client.get(f"/api/v1/users/{rng.randrange(users)}/recommendations?limit={LIMIT}").json()["source"]
            latencies.append(time.perf_counter() - started)
            sources[source] = sources.get(source, 0) + 1
    return latencies, sources


def run_brownout(workdir: Path, workers: int) -> dict[str, Any]:
    """Sequential recommendation requests before and while a private Redis is frozen (SIGSTOP), with
    two clients polling readiness all along."""
    private = PrivateRedis(workdir)
    server: Server | None = None
    stop = threading.Event()
    statuses: dict[int, int] = {}

    def poll(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
            while not stop.is_set():
                code = client.get("/health/ready").status_code
                statuses[code] = statuses.get(code, 0) + 1

    try:
        publish(private.url, BROWNOUT_PREFIX, BROWNOUT_USERS)
        server = start_server(private.url, BROWNOUT_PREFIX, workdir, workers)
        pollers = [threading.Thread(target=poll, args=(server.base_url,), daemon=True) for _ in range(BROWNOUT_POLLERS)]
        for poller in pollers:
            poller.start()
        rng = random.Random(BROWNOUT_SEED)
        healthy, healthy_sources = timed_requests(server.base_url, BROWNOUT_USERS, BROWNOUT_REQUESTS, rng)
        os.kill(private.process.pid, signal.SIGSTOP)
        hung, hung_sources = timed_requests(server.base_url, BROWNOUT_USERS, BROWNOUT_REQUESTS, rng)
        os.kill(private.process.pid, signal.SIGCONT)
        stop.set()
        for poller in pollers:
            poller.join(STOP_TIMEOUT_S)
    finally:
        stop.set()
        if server is not None:
            server.stop()
        private.stop()

    def summary(latencies: list[float], sources: dict[str, int]) -> dict[str, Any]:
        values = np.array(latencies) * MS_PER_S
        return {
            "requests": len(latencies),
            "sources": sources,
            "latency_ms": {
                q: round(float(np.percentile(values, n)), 3) for q, n in (("p50", 50), ("p95", 95), ("p99", 99))
            }
            | {"max": round(float(values.max()), 3)},
        }

    return {
        "setup": (
            f"python -m recommendations_api ({workers} workers) over a private redis-server with {BROWNOUT_USERS} "
            f"users; {BROWNOUT_POLLERS} clients poll /health/ready without pause; one client sends sequential "
            f"recommendation requests, first with Redis healthy, then with it stopped (SIGSTOP)"
        ),
        "healthy": summary(healthy, healthy_sources),
        "redis_stopped": summary(hung, hung_sources),
        "readiness_statuses": {str(code): n for code, n in sorted(statuses.items())},
    }


app = typer.Typer(add_completion=False)


@app.command(help=__doc__.splitlines()[0] if __doc__ else None)
def main(
    redis_url: Annotated[str | None, typer.Option(help="default: RECSYS_REDIS_URL, else the local Redis")] = None,
    users: Annotated[int, typer.Option()] = USERS,
    workers: Annotated[int, typer.Option()] = WORKERS,
    duration: Annotated[int, typer.Option(help="seconds of each measurement")] = DURATION_S,
    rounds: Annotated[int, typer.Option(help="alternating route/reference wrk rounds")] = ROUNDS,
    rate: Annotated[int, typer.Option(help="requests/s of the latency measurement")] = FIXED_RATE,
    output: Annotated[Path, typer.Option()] = DEFAULT_OUTPUT,
) -> None:
    redis_url = redis_url or CommonSettings().redis_url or DEFAULT_REDIS_URL

    prefix = f"bench:recapi:{uuid.uuid4().hex}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-recapi-"))
    load_before = load_average()
    servers: list[Server] = []
    try:
        meta, publish_s = publish(redis_url, prefix, users)
        print(f"published {meta.n_users} users in {publish_s:.2f} s ({meta.n_users / publish_s:,.0f} users/s)")
        route = start_server(redis_url, prefix, workdir, workers)
        servers.append(route)
        bare = start_server(redis_url, prefix, workdir, workers, BARE_APP, BARE_READY_PATH)
        servers.append(bare)
        with httpx.Client(base_url=route.base_url) as client:
            sample = client.get(f"/api/v1/users/0/recommendations?limit={LIMIT}").json()
        if sample["source"] != "personal" or len(sample["film_ids"]) != LIMIT:
            raise RuntimeError(f"unexpected answer: {sample}")
        side_by_side = run_side_by_side(route, bare, users, duration, rounds, workdir)
        print(f"route / reference: {side_by_side['ratio']} ({side_by_side['totals']})")
        bare.stop()
        fixed = run_fixed_rate(route.base_url, users, rate, duration, OPEN_LOOP_CONNECTIONS)
        print(f"at {rate} requests/s: latency {fixed['latency_ms']} errors {fixed['errors']}")
        route.stop()
        brownout = run_brownout(workdir, workers)
        print(f"brownout: {brownout['healthy']['latency_ms']} -> {brownout['redis_stopped']['latency_ms']}")
    finally:
        for server in servers:
            server.stop()
        deleted = delete_prefix(redis_url, prefix)
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"cleaned up {deleted} Redis keys")

    route_total = side_by_side["totals"]["route"]
    p99 = fixed["latency_ms"].get("p99", float("inf"))
    report = {
        "benchmark": "recommendations_api",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {**machine_info(), "load_average_before": load_before, "load_average_after": load_average()},
        "setup": {
            "server": f"recommendations_api.__main__.serve (uvicorn, {workers} workers, Redis RecStore, loopback)",
            "users": users,
            "films": FILMS,
            "layout": f"{MUST_WATCH_LEN} must-watch + {GENRES} genres x {GENRE_LEN}",
            "request": f"GET /api/v1/users/{{random user}}/recommendations?limit={LIMIT}",
            "publish_s": round(publish_s, 3),
            "publish_users_per_s": round(meta.n_users / publish_s),
        },
        "route_vs_bare": side_by_side,
        "fixed_rate": fixed,
        "brownout": brownout,
        "targets": {
            "max_rps": TARGET_MAX_RPS,
            "p99_ms_at_fixed_rate": TARGET_P99_MS,
            "route_vs_bare": TARGET_ROUTE_VS_BARE,
            "max_rps_met": route_total["rps"] >= TARGET_MAX_RPS,
            "p99_met": p99 <= TARGET_P99_MS and not fixed["errors"],
            "route_vs_bare_met": side_by_side["ratio"] >= TARGET_ROUTE_VS_BARE,
        },
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    app()
