"""Load test of the Recommendations API on loopback: 2 uvicorn workers over Redis.

1. publishes a version of 10,000 users (MovieLens-100K's 1,682 films, 100 must-watch + 18 genres
   x 20 per user) under a key prefix of its own, deleted at the end;
2. starts ``python -m recommendations_api`` (uvicorn, 2 workers) on a free loopback port;
3. max throughput: ``wrk`` (closed loop, a Lua script picks random user ids), bounded in time;
4. latency at a fixed 1,000 requests/s: an open-loop asyncio generator (Debian ships no ``wrk2``)
   that schedules every request at its own time and measures from that time, so a stalled server
   is charged for the requests that waited (no coordinated omission);
5. writes the numbers, the targets and the machine (CPU, cores, RAM, load) to
   ``benchmarks/results/recommendations_api.json``.

Run: ``.venv/bin/python benchmarks/bench_recommendations_api.py`` (needs Redis and ``wrk``).
Targets: >= 5,000 requests/s; p99 <= 10 ms at 1,000 requests/s.
"""

from __future__ import annotations

import argparse
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
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import redis

from recsys_common.adapters.redis_recstore import RedisRecStore
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

TARGET_MAX_RPS = 5_000
TARGET_P99_MS = 10.0

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
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
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


def start_server(redis_url: str, prefix: str, workdir: Path, workers: int) -> Server:
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
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "recommendations_api"],
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
                if client.get("/health/ready").status_code == httpx.codes.OK:
                    return server
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the API was not ready within {START_TIMEOUT_S} s; see {log_path}")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--redis-url", default=CommonSettings().redis_url or DEFAULT_REDIS_URL)
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--workers", type=int, default=WORKERS)
    parser.add_argument("--duration", type=int, default=DURATION_S, help="seconds of each measurement")
    parser.add_argument("--rate", type=int, default=FIXED_RATE, help="requests/s of the latency measurement")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()

    prefix = f"bench:recapi:{uuid.uuid4().hex}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-recapi-"))
    load_before = load_average()
    server: Server | None = None
    try:
        meta, publish_s = publish(args.redis_url, prefix, args.users)
        print(f"published {meta.n_users} users in {publish_s:.2f} s ({meta.n_users / publish_s:,.0f} users/s)")
        server = start_server(args.redis_url, prefix, workdir, args.workers)
        with httpx.Client(base_url=server.base_url) as client:
            sample = client.get(f"/api/v1/users/0/recommendations?limit={LIMIT}").json()
        if sample["source"] != "personal" or len(sample["film_ids"]) != LIMIT:
            raise RuntimeError(f"unexpected answer: {sample}")
        run_wrk(server.base_url, args.users, WARMUP_S, WRK_THREADS, WRK_CONNECTIONS, workdir)
        max_rps = run_wrk(server.base_url, args.users, args.duration, WRK_THREADS, WRK_CONNECTIONS, workdir)
        print(f"max throughput: {max_rps['rps']:,.0f} requests/s, p50/p99 {max_rps['latency_ms']}")
        fixed = run_fixed_rate(server.base_url, args.users, args.rate, args.duration, OPEN_LOOP_CONNECTIONS)
        print(f"at {args.rate} requests/s: latency {fixed['latency_ms']} errors {fixed['errors']}")
    finally:
        if server is not None:
            server.stop()
        deleted = delete_prefix(args.redis_url, prefix)
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"cleaned up {deleted} Redis keys")

    p99 = fixed["latency_ms"].get("p99", float("inf"))
    report = {
        "benchmark": "recommendations_api",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {**machine_info(), "load_average_before": load_before, "load_average_after": load_average()},
        "setup": {
            "server": f"python -m recommendations_api (uvicorn, {args.workers} workers, Redis RecStore, loopback)",
            "users": args.users,
            "films": FILMS,
            "layout": f"{MUST_WATCH_LEN} must-watch + {GENRES} genres x {GENRE_LEN}",
            "request": f"GET /api/v1/users/{{random user}}/recommendations?limit={LIMIT}",
            "publish_s": round(publish_s, 3),
            "publish_users_per_s": round(meta.n_users / publish_s),
        },
        "max_throughput": max_rps,
        "fixed_rate": fixed,
        "targets": {
            "max_rps": TARGET_MAX_RPS,
            "p99_ms_at_fixed_rate": TARGET_P99_MS,
            "max_rps_met": max_rps["rps"] >= TARGET_MAX_RPS,
            "p99_met": p99 <= TARGET_P99_MS and not fixed["errors"],
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
