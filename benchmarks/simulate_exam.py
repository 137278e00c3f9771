"""Simulate the course exam's grader against ``python -m exam_api`` and a popularity-only service.

For each service, in the same run and with the same users:

1. start it (``python -m exam_api`` on the embedded default with its engine children, in a
   temporary data directory; the popularity service is this script's ``serve-popularity`` mode);
2. ``/healthcheck``, ``/cleanup``, ``/add_items``: every MovieLens-100K film with its genres, in
   batches of 500 (integer item ids = MovieLens item numbers);
3. replay: every user's ratings in time order, the last ``--hidden`` share (30 %) held out as their
   relevant items; the rest sent in ``--steps`` ``/interact`` calls (rating >= 4 stars -> like,
   else dislike), each followed by a ``/recs`` call; ``--concurrency`` users at once (asyncio +
   httpx), each waiting ``--think-ms`` between calls (a person reading the page);
4. burst: ``--concurrency`` clients calling ``/recs`` for random users back to back, no think time,
   for ``--burst-s`` seconds (the worst case for latency), first from this script (httpx: its own
   CPU cost is part of what it measures), then from ``wrk`` (a C client, the server's latency);
5. the numbers go to ``benchmarks/results/exam_simulation.json`` with the machine and load average.

Metrics, k = 10:

- ``final``: each user's ``/recs`` answer after their last interaction against their held-out
  items: precision@10 and nDCG@10 (binary relevance, ideal DCG over min(held-out, 10) hits). The
  headline numbers.
- ``running``: every ``/recs`` answer of the replay against the items the user goes on to rate
  (the rest of their training ratings and the held-out ones), averaged over the answers.
- diversity: mean over answers of the mean pairwise Jaccard distance of the items' genre sets;
  coverage: distinct items answered over the whole replay / items added (and over final answers).
- personal share: the share of answered items that came from the user's own list (the exam API's
  ``X-Personal-Items`` header; the rest is popularity and exploration);
- latency of ``/recs`` and ``/interact`` (replay), and of ``/recs`` in the burst: p50/p95/p99.

Run (about 5 minutes with the defaults; ``--users`` and ``--budget-s`` make it shorter)::

    PYTHONPATH=. .venv/bin/python benchmarks/simulate_exam.py --cache-dir /path/to/data/cache
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import typer
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from recsys_common.columns import Columns
from recsys_common.machine import machine_info
from recsys_datasets import build_seed

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "exam_simulation.json"
K = 10
BATCH = 500
#: Response header of the exam API's /recs: items from the user's own list (absent elsewhere: 0).
PERSONAL_HEADER = "X-Personal-Items"
#: MovieLens stars on the platform's 1..10 scale: 4 stars and up is a like.
LIKE_FROM = 8.0
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
PERCENTILES = (50, 95, 99)
MS = 1000.0


# ----- the data -----------------------------------------------------------------------------------
@dataclass
class Replay:
    user_id: int
    steps: list[tuple[list[int], list[str]]]  # (item ids, actions) per /interact call
    hidden: set[int]


def load_replays(cache_dir: Path, hidden_share: float, steps: int) -> tuple[dict[int, tuple[str, ...]], list[Replay]]:
    seed = build_seed(cache_dir, progress=False)
    films = seed.films
    items = {
        int(str(s).split(":")[1]): tuple(g) for s, g in zip(films[Columns.SourceId], films[Columns.Genres], strict=True)
    }
    item_of = {f: int(str(s).split(":")[1]) for f, s in zip(films[Columns.Item], films[Columns.SourceId], strict=True)}
    ratings = seed.ratings.assign(item=seed.ratings[Columns.Item].map(item_of))
    ratings = ratings.sort_values([Columns.Timestamp], kind="stable")
    replays = []
    for user, rows in ratings.groupby(Columns.User, sort=False):
        n_hidden = max(1, round(hidden_share * len(rows)))
        train, test = rows.iloc[: len(rows) - n_hidden], rows.iloc[len(rows) - n_hidden :]
        chunks = [c for c in np.array_split(np.arange(len(train)), min(steps, len(train))) if len(c)]
        plan = [
            (
                train["item"].iloc[c].astype(int).tolist(),
                ["like" if r >= LIKE_FROM else "dislike" for r in train[Columns.Rating].iloc[c]],
            )
            for c in chunks
        ]
        replays.append(Replay(int(str(user).split(":")[1]), plan, set(test["item"].astype(int))))
    return items, replays  # users in order of their first rating


# ----- the measurements ---------------------------------------------------------------------------
@dataclass
class Answer:
    user_id: int
    items: list[int]
    future: set[int]
    final: bool
    personal: int  # items from the user's own list (the exam API's X-Personal-Items header)


@dataclass
class Measured:
    answers: list[Answer] = field(default_factory=list)
    recs_ms: list[float] = field(default_factory=list)
    interact_ms: list[float] = field(default_factory=list)
    burst_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    invariant_violations: Counter[str] = field(default_factory=Counter)
    users: int = 0
    replay_s: float = 0.0
    burst_s: float = 0.0


def precision(items: Sequence[int], relevant: set[int]) -> float:
    return sum(1 for i in items[:K] if i in relevant) / K


def ndcg(items: Sequence[int], relevant: set[int]) -> float:
    dcg = sum(1.0 / math.log2(rank + 2) for rank, i in enumerate(items[:K]) if i in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), K)))
    return dcg / ideal if ideal else 0.0


def diversity(items: Sequence[int], genres: dict[int, tuple[str, ...]]) -> float:
    sets = [set(genres.get(i, ())) for i in items[:K]]
    pairs = [(a, b) for n, a in enumerate(sets) for b in sets[n + 1 :]]
    if not pairs:
        return 0.0
    return float(np.mean([1.0 - len(a & b) / len(a | b) if a | b else 0.0 for a, b in pairs]))


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    array = np.asarray(values)
    return {f"p{p}": round(float(np.percentile(array, p)), 2) for p in PERCENTILES} | {"n": len(values)}


def summarise(measured: Measured, genres: dict[int, tuple[str, ...]]) -> dict[str, Any]:
    final = [a for a in measured.answers if a.final]
    running = [a for a in measured.answers if a.future]
    return {
        "users": measured.users,
        "final": {
            "precision_at_10": round(float(np.mean([precision(a.items, a.future) for a in final])), 4),
            "ndcg_at_10": round(float(np.mean([ndcg(a.items, a.future) for a in final])), 4),
            "answers": len(final),
        },
        "running": {
            "precision_at_10": round(float(np.mean([precision(a.items, a.future) for a in running])), 4),
            "ndcg_at_10": round(float(np.mean([ndcg(a.items, a.future) for a in running])), 4),
            "answers": len(running),
        },
        "diversity": round(float(np.mean([diversity(a.items, genres) for a in measured.answers])), 4),
        "coverage": round(len({i for a in measured.answers for i in a.items}) / len(genres), 4),
        "coverage_final": round(len({i for a in final for i in a.items}) / len(genres), 4),
        "short_answers": sum(1 for a in measured.answers if len(a.items) < K),
        "personal_share": {
            "final": round(float(np.mean([a.personal / K for a in final])), 4),
            "all": round(float(np.mean([a.personal / K for a in measured.answers])), 4),
        },
        "latency_ms": {
            "recs": percentiles(measured.recs_ms),
            "interact": percentiles(measured.interact_ms),
            "recs_burst": percentiles(measured.burst_ms),
        },
        "burst_requests_per_s": round(len(measured.burst_ms) / measured.burst_s, 1) if measured.burst_s else None,
        "replay_seconds": round(measured.replay_s, 1),
        "errors": dict(measured.errors),
        "invariant_violations": dict(measured.invariant_violations),
    }


# ----- the protocol -------------------------------------------------------------------------------
class Client:
    def __init__(self, interact_url: str, recs_url: str, concurrency: int, measured: Measured) -> None:
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        self.http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits)
        self.interact_url, self.recs_url = interact_url, recs_url
        self.measured = measured

    async def wait_ready(self, process: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the service exited with {process.returncode}")
            try:
                if (await self.http.get(f"{self.recs_url}/healthcheck")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("the service did not answer /healthcheck")

    async def setup(self, items: dict[int, tuple[str, ...]]) -> None:
        (await self.http.get(f"{self.interact_url}/cleanup")).raise_for_status()
        ids = sorted(items)
        for start in range(0, len(ids), BATCH):
            batch = ids[start : start + BATCH]
            body = {"item_ids": batch, "genres": [list(items[i]) for i in batch]}
            (await self.http.post(f"{self.interact_url}/add_items", json=body)).raise_for_status()

    async def interact(self, user: int, items: list[int], actions: list[str]) -> None:
        started = time.perf_counter()
        response = await self.http.post(
            f"{self.interact_url}/interact", json={"user_id": user, "item_ids": items, "actions": actions}
        )
        self.measured.interact_ms.append((time.perf_counter() - started) * MS)
        if response.status_code != 200:
            self.measured.errors[f"interact {response.status_code}"] += 1

    async def recs(self, user: int, timings: list[float]) -> tuple[list[int], int]:
        """The answer's items and how many of them came from the user's own list."""
        started = time.perf_counter()
        response = await self.http.get(f"{self.recs_url}/recs/{user}")
        timings.append((time.perf_counter() - started) * MS)
        if response.status_code != 200:
            self.measured.errors[f"recs {response.status_code}"] += 1
            return [], 0
        items: list[int] = response.json()["item_ids"]
        return items, int(response.headers.get(PERSONAL_HEADER, 0))


async def replay_user(client: Client, replay: Replay, think_s: float, known: set[int]) -> None:
    measured = client.measured
    shown: set[int] = set()
    interacted: set[int] = set()
    future_items = [i for items, _ in replay.steps for i in items]
    sent = 0
    for number, (items, actions) in enumerate(replay.steps):
        await client.interact(replay.user_id, items, actions)
        interacted.update(items)
        sent += len(items)
        await asyncio.sleep(think_s)
        answer, personal = await client.recs(replay.user_id, measured.recs_ms)
        final = number == len(replay.steps) - 1
        future = replay.hidden if final else set(future_items[sent:]) | replay.hidden
        measured.answers.append(Answer(replay.user_id, answer, future, final, personal))
        if set(answer) & shown or len(set(answer)) != len(answer):
            measured.invariant_violations["repeated an item"] += 1
        if set(answer) & interacted:
            measured.invariant_violations["returned an interacted item"] += 1
        if set(answer) - known:
            measured.invariant_violations["returned an item never added"] += 1
        shown.update(answer)
        await asyncio.sleep(think_s)


async def run_replay(
    client: Client, replays: list[Replay], concurrency: int, think_s: float, budget_s: float, known: set[int]
) -> None:
    queue: asyncio.Queue[Replay] = asyncio.Queue()
    for replay in replays:
        queue.put_nowait(replay)
    deadline = time.monotonic() + budget_s
    started = time.monotonic()

    async def worker() -> None:
        while time.monotonic() < deadline:
            try:
                replay = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            await replay_user(client, replay, think_s, known)
            client.measured.users += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    client.measured.replay_s = time.monotonic() - started


_WRK_SCRIPT = """
local users = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/recs/" .. users[(n * 7919) %% #users + 1])
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%f %%f %%f %%f\\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3))
end
"""


def wrk_burst(recs_url: str, users: list[int], concurrency: int, seconds: float) -> dict[str, Any] | None:
    """``/recs`` for the replayed users, back to back from ``concurrency`` connections (wrk: a client
    that costs the server's cores far less than Python's), latency percentiles in ms."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % ", ".join(map(str, users)))
    try:
        command = [wrk, "-t2", f"-c{concurrency}", f"-d{max(int(seconds), 1)}s", "-s", script.name, recs_url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("WRK "))
    requests, duration, p50, p95, p99 = (float(v) for v in line.split()[1:])
    return {
        "requests_per_s": round(requests / duration, 1),
        "latency_ms": {"p50": round(p50, 2), "p95": round(p95, 2), "p99": round(p99, 2), "n": int(requests)},
        "connections": concurrency,
    }


async def run_burst(client: Client, users: list[int], concurrency: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    rng = random.Random(7)
    started = time.monotonic()

    async def worker() -> None:
        while time.monotonic() < deadline:
            await client.recs(rng.choice(users), client.measured.burst_ms)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    client.measured.burst_s = time.monotonic() - started


async def simulate(
    interact_url: str,
    recs_url: str,
    process: subprocess.Popen[bytes] | None,
    items: dict[int, tuple[str, ...]],
    replays: list[Replay],
    args: Options,
) -> dict[str, Any]:
    measured = Measured()
    client = Client(interact_url, recs_url, args.concurrency, measured)
    try:
        await client.wait_ready(process)
        await client.setup(items)
        await run_replay(client, replays, args.concurrency, args.think_ms / MS, args.budget_s, set(items))
        if args.burst_s > 0:
            await run_burst(client, [r.user_id for r in replays], args.concurrency, args.burst_s)
    finally:
        await client.http.aclose()
    summary = summarise(measured, items)
    if args.burst_s > 0:
        summary["wrk_burst"] = wrk_burst(recs_url, [r.user_id for r in replays], args.concurrency, args.burst_s)
    return summary


@dataclass(frozen=True)
class Options:
    """The run's command-line options."""

    cache_dir: Path
    concurrency: int
    steps: int
    think_ms: float
    hidden: float
    users: int
    budget_s: float
    burst_s: float
    services: list[str]
    output: Path


# ----- the services -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def measure_service(
    name: str,
    command: Callable[[int, int], list[str]],
    env: dict[str, str],
    items: dict[int, tuple[str, ...]],
    replays: list[Replay],
    args: Options,
) -> dict[str, Any]:
    interact_port, recs_port = free_port(), free_port()
    log = Path(tempfile.gettempdir()) / f"exam-sim-{name}.log"
    process = start(command(interact_port, recs_port), env, log)
    print(f"{name}: started, its log in {log}", flush=True)
    started = time.monotonic()
    try:
        result = asyncio.run(
            simulate(
                f"http://127.0.0.1:{interact_port}", f"http://127.0.0.1:{recs_port}", process, items, replays, args
            )
        )
    finally:
        stop(process)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    print(f"{name}: {json.dumps(result)}", flush=True)
    return result


def run(args: Options) -> None:
    items, replays = load_replays(args.cache_dir, args.hidden, args.steps)
    if args.users:
        replays = replays[: args.users]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    machine = machine_info()
    began = time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="exam-sim-") as data_dir:
        for name in args.services:
            if name == "exam_api":
                ours_env = {**env, "RECSYS_DATA_DIR": data_dir, "RECSYS_EXAM_LOG_LEVEL": "warning"}

                def ours(interact: int, recs: int, env: dict[str, str] = ours_env) -> list[str]:
                    env["RECSYS_EXAM_INTERACT_PORT"], env["RECSYS_EXAM_RECS_PORT"] = str(interact), str(recs)
                    return [sys.executable, "-m", "exam_api"]

                results[name] = measure_service(name, ours, ours_env, items, replays, args)
            else:

                def popularity(interact: int, recs: int) -> list[str]:
                    return [sys.executable, __file__, "serve-popularity", "--ports", str(interact), str(recs)]

                results[name] = measure_service(name, popularity, env, items, replays, args)
    report: dict[str, Any] = {
        "benchmark": "course exam simulation (benchmarks/simulate_exam.py)",
        "machine": machine,
        "seconds": round(time.monotonic() - began, 1),
        "protocol": {
            "data": "MovieLens-100K, every film added (batches of 500), item ids = MovieLens item numbers",
            "hidden": f"the last {args.hidden:.0%} of each user's ratings in time order (the relevant items)",
            "replay": f"the rest in {args.steps} /interact calls per user (>= 4 stars: like), each followed by /recs",
            "concurrency": args.concurrency,
            "think_ms": args.think_ms,
            "burst_s": args.burst_s,
            "users": len(replays),
            "budget_s": args.budget_s,
            "final": "P@10 and nDCG@10 of each user's /recs after their last interaction vs their hidden items",
            "running": "every /recs of the replay vs the items the user rates later (training rest + hidden)",
        },
        "services": results,
    }
    if "exam_api" in results and "popularity" in results:
        ours_p = results["exam_api"]["final"]["precision_at_10"]
        base_p = results["popularity"]["final"]["precision_at_10"]
        report["precision_ratio"] = round(ours_p / base_p, 2) if base_p else None
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"written to {args.output}")


# ----- the popularity-only reference service ------------------------------------------------------
class AddItemsBody(BaseModel):
    item_ids: list[int]
    genres: list[list[str]]


class InteractBody(BaseModel):
    user_id: int
    item_ids: list[int]
    actions: list[str]


def popularity_app() -> FastAPI:
    """The exam's five routes, answering the most interacted items the user was not shown."""
    app = FastAPI()
    items: list[int] = []
    counts: Counter[int] = Counter()
    seen: dict[int, set[int]] = {}
    order: list[int] = []
    dirty = [True]

    @app.get("/healthcheck")
    async def healthcheck() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/cleanup")
    async def cleanup() -> dict[str, str]:
        items.clear()
        counts.clear()
        seen.clear()
        dirty[0] = True
        return {"status": "ok"}

    @app.post("/add_items")
    async def add_items(body: AddItemsBody) -> dict[str, str]:
        items.extend(i for i in body.item_ids if i not in set(items))
        dirty[0] = True
        return {"status": "ok"}

    @app.post("/interact")
    async def interact(body: InteractBody) -> dict[str, str]:
        counts.update(body.item_ids)
        seen.setdefault(body.user_id, set()).update(body.item_ids)
        dirty[0] = True
        return {"status": "ok"}

    @app.get("/recs/{user_id}")
    async def recs(user_id: int) -> dict[str, list[int]]:
        if dirty[0]:
            order[:] = sorted(items, key=lambda i: (-counts[i], i))
            dirty[0] = False
        excluded = seen.setdefault(user_id, set())
        answer = [i for i in order if i not in excluded][:K]
        excluded.update(answer)
        return {"item_ids": answer}

    return app


def _serve_popularity(ports: tuple[int, int]) -> None:
    app = popularity_app()

    async def main() -> None:
        servers = [
            uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=p, log_level="warning", lifespan="off"))
            for p in dict.fromkeys(ports)
        ]
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(main())


app = typer.Typer(help=__doc__, add_completion=False)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    cache_dir: Annotated[Path, typer.Option()] = ROOT / "data" / "cache",
    concurrency: Annotated[int, typer.Option()] = 50,
    steps: Annotated[int, typer.Option(help="/interact calls per user (each followed by /recs)")] = 5,
    think_ms: Annotated[float, typer.Option(help="Pause of a simulated user between calls")] = 500.0,
    hidden: Annotated[float, typer.Option()] = 0.3,
    users: Annotated[int, typer.Option(help="Replay only the first N users (0: all 943)")] = 0,
    budget_s: Annotated[float, typer.Option(help="No user starts after this many seconds")] = 900.0,
    burst_s: Annotated[float, typer.Option()] = 10.0,
    services: Annotated[
        list[str] | None, typer.Option(help="Repeat or separate by commas [default: exam_api,popularity]")
    ] = None,
    output: Annotated[Path, typer.Option()] = DEFAULT_OUTPUT,
) -> None:
    """Run the simulation (the default) or, with ``serve-popularity``, serve the reference service."""
    if ctx.invoked_subcommand is not None:
        return
    names = [name for value in services or ["exam_api,popularity"] for name in value.split(",") if name]
    run(Options(cache_dir, concurrency, steps, think_ms, hidden, users, budget_s, burst_s, names, output))


@app.command("serve-popularity")
def serve_popularity(ports: Annotated[tuple[int, int], typer.Option()]) -> None:
    """Serve the popularity-only reference service."""
    _serve_popularity(ports)


if __name__ == "__main__":
    app()
