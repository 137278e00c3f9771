"""A full engine cycle at several sizes, in-process and on a two-worker Dask LocalCluster (issue 16).

Synthetic data: films with 1-3 of 18 genres and IMDb figures, power-law popularity (exponent 0.8),
about 20 ratings per user (Poisson). Each size runs in a subprocess of its own (so its peak memory
is its own):

1. in-process: ``Engine.run_cycle`` (read = screening + building the rating matrix from the rows a
   RatingSource returned, fit = one LightFM epoch + the EASE part, publish = score, mask, rank and
   write every user's lists to the real Redis), then
2. Dask: a ``LocalCluster(n_workers=2, threads_per_worker=1, processes=True)`` and the same cycle
   with ``RECSYS_DASK_SCHEDULER``'s code path (the model fitted in step 1 is reused: training stays
   on one node);
3. per-core rates on a sample of users, one thread: the engine's scorer (``lists.personal_lists``,
   blend + 18 genre lists, no writes) and, as the reference, a plain float32 GEMM of the same shape
   per block; LightFM's training rate (ratings x epochs per second per thread); Redis bytes per user.

Peak memory is the RSS of the engine process (and of the Dask workers) sampled every 0.1 s.
Usage: python benchmarks/bench_cycle_scale.py [--sizes 100000,300000,1000000] [--films 20000]
Needs Redis (RECSYS_REDIS_URL or redis://127.0.0.1:6379/0); keys go under a unique prefix and are
deleted at the end.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import psutil
import redis
import typer
from distributed import LocalCluster
from threadpoolctl import threadpool_limits

from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.distributed import DaskPublisher
from recommender_engine.gate import GateConfig
from recommender_engine.lists import genre_groups, personal_lists
from recommender_engine.model.dataset import Dataset
from recommender_engine.model.hybrid import EpochCallback, HybridModel, ModelConfig
from recommender_engine.ranking import GenreIndex
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_common.machine import machine_info
from recsys_common.ports.ratings import RatingSource

N_GENRES = 18
RATINGS_PER_USER = 20
POPULARITY_EXPONENT = 0.8
SAMPLE_USERS = 10_000
GEMM_BLOCKS = 40
MIB = 2**20
LISTS = ListConfig()  # 100 must-watch, 20 per genre, blocks of 2048 users
MODEL = ModelConfig(epochs=1, num_threads=2)  # one epoch: the fit is reported per epoch

app = typer.Typer(add_completion=False)


# ----- data -----
def synthetic_films(n_films: int, rng: np.random.Generator) -> pd.DataFrame:
    genre_names = [f"Genre {g:02d}" for g in range(N_GENRES)]
    counts = rng.integers(1, 4, n_films)
    genres = [tuple(sorted(rng.choice(genre_names, c, replace=False))) for c in counts]
    return pd.DataFrame(
        {
            Columns.Item: [film_id_for(f"bench:{i}") for i in range(n_films)],
            Columns.SourceId: [f"bench:{i}" for i in range(n_films)],
            Columns.Title: [f"Film {i}" for i in range(n_films)],
            Columns.Year: rng.integers(1930, 2026, n_films),
            Columns.Genres: genres,
            Columns.ImdbRating: rng.uniform(3, 9, n_films),
            Columns.ImdbVotes: np.floor(rng.pareto(1.2, n_films) * 1000),
            Columns.RtRating: rng.uniform(0, 100, n_films),
            Columns.Description: [""] * n_films,
        }
    )


def synthetic_ratings(n_users: int, films: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    per_user = np.maximum(rng.poisson(RATINGS_PER_USER, n_users), 1)
    popularity = 1.0 / np.arange(1, len(films) + 1) ** POPULARITY_EXPONENT
    popularity /= popularity.sum()
    n = int(per_user.sum())
    film_ids = films[Columns.Item].to_numpy(dtype=object)
    user_ids = np.array([f"u{u:09d}" for u in range(n_users)], dtype=object)
    return pd.DataFrame(
        {
            Columns.User: np.repeat(user_ids, per_user),
            Columns.Item: film_ids[rng.choice(len(films), n, p=popularity)],
            Columns.Rating: rng.integers(1, 11, n).astype(np.float64),
            Columns.Timestamp: np.arange(n, dtype=np.int64),
        }
    )


class FrameRatings(RatingSource):
    """The rows a ClickHouse read would return, already in memory (the read stage times the rest)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def read_all(self) -> pd.DataFrame:
        return self._frame

    def read_user(self, user_id: str) -> pd.DataFrame:
        return self._frame[self._frame[Columns.User] == user_id]

    def read_since(self, watermark: int) -> pd.DataFrame:
        return self._frame[self._frame[Columns.Timestamp] > watermark]

    def watermark(self) -> int:
        return len(self._frame)


# ----- measuring -----
class PeakRss:
    """The peak RSS (MiB) of this process and, separately, of all its descendants, sampled."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.own = self.children = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.own = max(self.own, me.memory_info().rss / MIB)
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.children = max(self.children, total / MIB)
            self._stop.wait(self._interval_s)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class TimedModel(HybridModel):
    """Records how long the LightFM epoch and the rest of the fit (EASE) took."""

    timings: dict[str, float] = {}  # noqa: RUF012 - one run per process
    dataset: Dataset | None = None

    def fit(self, dataset: Dataset, on_epoch: EpochCallback | None = None) -> HybridModel:
        TimedModel.dataset = dataset
        started = time.perf_counter()
        epochs: list[float] = []
        super().fit(dataset, on_epoch=lambda done, total: epochs.append(time.perf_counter()))
        ended = time.perf_counter()
        TimedModel.timings = {"lightfm_epoch_seconds": epochs[0] - started, "ease_seconds": ended - epochs[-1]}
        return self


class Prefitted(HybridModel):
    """The model fitted by the in-process cycle, handed to the Dask cycle (training stays on one node)."""

    def __init__(self, fitted: HybridModel) -> None:
        super().__init__(fitted.config)
        self.set_params(fitted.params)

    def fit(self, dataset: Dataset, on_epoch: EpochCallback | None = None) -> HybridModel:
        return self


def per_core_rates(model: HybridModel, dataset: Dataset) -> dict[str, float]:
    """Users per second on one core: the engine's scorer without writes, and a plain GEMM of the same
    shape per block (the reference)."""
    sample = min(SAMPLE_USERS, dataset.n_users)
    _, groups = genre_groups(dataset.films)
    genres = GenreIndex(groups, dataset.n_films)
    with threadpool_limits(limits=1, user_api="blas"):
        tick = time.perf_counter()
        for _ in personal_lists(
            model.score_block,
            dataset.matrix[:sample],
            genres,
            LISTS.must_watch_len,
            LISTS.genre_len,
            LISTS.block_size,
            threads=1,
        ):
            pass
        scorer = sample / (time.perf_counter() - tick)
        users = model.params.user_embeddings[: LISTS.block_size]
        items = np.ascontiguousarray(model.params.feature_embeddings[: dataset.n_films].T)
        tick = time.perf_counter()
        for _ in range(GEMM_BLOCKS):
            users @ items
        gemm = GEMM_BLOCKS * users.shape[0] / (time.perf_counter() - tick)
    return {"engine_scorer_users_per_s_per_core": round(scorer, 1), "gemm_users_per_s_per_core": round(gemm, 1)}


def run_size(n_users: int, n_films: int, redis_url: str) -> dict[str, Any]:
    rng = np.random.default_rng(42)
    tick = time.perf_counter()
    films = synthetic_films(n_films, rng)
    ratings = synthetic_ratings(n_users, films, rng)
    generate_seconds = time.perf_counter() - tick
    prefix = f"test:bench-cycle-{uuid.uuid4().hex[:8]}"
    opener = functools.partial(RedisRecStore, redis_url, prefix=prefix, socket_timeout_s=30.0)
    store = opener()
    result: dict[str, Any] = {
        "machine": machine_info(),
        "users": n_users,
        "films": n_films,
        "ratings": len(ratings),
        "generate_seconds": round(generate_seconds, 1),
    }
    work = Path(tempfile.mkdtemp(prefix="bench-cycle-"))

    def engine(model_factory: Any, dask: DaskPublisher | None) -> Engine:
        return Engine(
            ratings=FrameRatings(ratings),
            store=store,
            films=lambda: films,
            lists=LISTS,
            model=MODEL,
            artefact_dir=work / "models",
            journal=CycleJournal(work / "cycles.jsonl"),
            gate=GateConfig(enabled=False),
            model_factory=model_factory,
            dask=dask,
        )

    fitted: list[HybridModel] = []

    def remember(config: ModelConfig) -> HybridModel:
        fitted.append(TimedModel(config))
        return fitted[-1]

    try:
        with PeakRss() as peak:
            tick = time.perf_counter()
            cycle = engine(remember, None).run_cycle(force=True)
            wall = time.perf_counter() - tick
        meta = store.current()
        assert meta is not None and meta.n_users == n_users, meta
        client = redis.Redis.from_url(redis_url)
        buckets = client.scan_iter(match=f"{prefix}:v:{meta.version}:users:*", count=1_000)  # the users' hashes
        redis_bytes = sum(int(client.memory_usage(key, samples=0) or 0) for key in buckets)
        client.close()
        in_process = {
            "read_seconds": cycle.metrics["read_seconds"],
            **TimedModel.timings,
            "fit_seconds": cycle.metrics["fit_seconds"],
            "score_and_publish_seconds": cycle.metrics["publish_seconds"],
            "cycle_seconds": wall,
            "peak_rss_mib": peak.own,
        }
        result["in_process"] = {k: round(v, 2) for k, v in in_process.items()}
        result["redis_bytes_per_user"] = round(redis_bytes / n_users, 1)
        result["training_ratings_epochs_per_s_per_thread"] = round(
            cycle.metrics["ratings"] / TimedModel.timings["lightfm_epoch_seconds"] / MODEL.num_threads
        )
        store.clear()  # one version in Redis at a time

        with LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", host="127.0.0.1"
        ) as cluster:
            dask = DaskPublisher(cluster.scheduler_address, opener)
            with PeakRss() as peak:
                tick = time.perf_counter()
                cycle = engine(lambda config: Prefitted(fitted[0]), dask).run_cycle(force=True)
                wall = time.perf_counter() - tick
        meta = store.current()
        assert meta is not None and meta.n_users == n_users, meta
        dask_figures = {
            "read_seconds": cycle.metrics["read_seconds"],
            "score_and_publish_seconds": cycle.metrics["publish_seconds"],
            "cycle_seconds_without_fit": wall - cycle.metrics["fit_seconds"],
            "engine_peak_rss_mib": peak.own,
            "workers_peak_rss_mib": peak.children,
        }
        result["dask_two_workers"] = {k: round(v, 2) for k, v in dask_figures.items()}
        assert TimedModel.dataset is not None
        result["per_core"] = per_core_rates(fitted[0], TimedModel.dataset)
    finally:
        store.clear()
        store.close()
    return result


# ----- commands -----
@app.command()
def one(users: int, films: int, redis_url: str) -> None:
    """One size, in this process; prints its figures as JSON."""
    print(json.dumps(run_size(users, films, redis_url)))


@app.command()
def main(
    sizes: Annotated[str, typer.Option(help="comma-separated user counts")] = "100000,300000,1000000",
    films: Annotated[int, typer.Option()] = 20_000,
    redis_url: Annotated[str | None, typer.Option(help="default: RECSYS_REDIS_URL, else the local Redis")] = None,
    output: Annotated[Path, typer.Option()] = Path("benchmarks/results/cycle_scale.json"),
    merge: Annotated[bool, typer.Option(help="keep the other sizes already in the output")] = False,
) -> None:
    """Every size, each in a subprocess; writes the JSON and a markdown table beside it."""
    redis_url = redis_url or os.environ.get("RECSYS_REDIS_URL", "redis://127.0.0.1:6379/0")
    result: dict[str, Any] = {"model": MODEL.model_dump(), "lists": LISTS.model_dump()}
    runs: list[dict[str, Any]] = []
    if merge and output.exists():  # keep the sizes measured earlier (the big ones run alone, late)
        runs = [run for run in json.loads(output.read_text(encoding="utf-8"))["runs"]]
    for users in [int(size) for size in sizes.split(",")]:
        print(f"{users} users x {films} films ...", file=sys.stderr, flush=True)
        out = subprocess.run(
            [sys.executable, __file__, "one", str(users), str(films), redis_url],
            check=True,
            capture_output=True,
            text=True,
        )
        run = json.loads(out.stdout.strip().splitlines()[-1])
        run["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
        runs = [other for other in runs if (other["users"], other["films"]) != (users, films)] + [run]
        print(json.dumps(run), file=sys.stderr, flush=True)
        result["runs"] = sorted(runs, key=lambda run: (run["users"], run["films"]))
        output.parent.mkdir(parents=True, exist_ok=True)  # after each size: a long run keeps what it measured
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        output.with_suffix(".md").write_text(markdown(result), encoding="utf-8")


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Engine cycle at scale (benchmarks/bench_cycle_scale.py)",
        "",
        "One LightFM epoch (64 factors, WARP, 2 threads, item features) + EASE on the 5,000 most-rated films; "
        "lists of 100 + 18 genres x 20 per user, published to the local Redis. In-process: 2 scoring threads; "
        "Dask: a LocalCluster of 2 worker processes x 1 thread on the same 2 cores. Times in seconds, memory "
        "in MiB (peak RSS, sampled).",
        "",
        "| users | films | ratings | read | LightFM epoch | EASE | score+publish in-process "
        "| score+publish Dask | peak RSS in-process | peak RSS Dask (engine + workers) "
        "| scorer users/s/core | GEMM users/s/core (reference) | training ratings/s/thread | Redis B/user "
        "| date, load average (start; end) |",
        "|" + "---|" * 15,
    ]
    for run in result["runs"]:
        local, dask, core, machine = run["in_process"], run["dask_two_workers"], run["per_core"], run["machine"]
        lines.append(
            f"| {run['users']:,} | {run['films']:,} | {run['ratings']:,} | {local['read_seconds']} "
            f"| {local['lightfm_epoch_seconds']} | {local['ease_seconds']} | {local['score_and_publish_seconds']} "
            f"| {dask['score_and_publish_seconds']} | {local['peak_rss_mib']:.0f} "
            f"| {dask['engine_peak_rss_mib']:.0f} + {dask['workers_peak_rss_mib']:.0f} "
            f"| {core['engine_scorer_users_per_s_per_core']:,.0f} | {core['gemm_users_per_s_per_core']:,.0f} "
            f"| {run['training_ratings_epochs_per_s_per_thread']:,} | {run['redis_bytes_per_user']} "
            f"| {machine['date_utc']}, {machine['load_average']}; {run['load_average_at_end']} |"
        )
    machine = result["runs"][-1]["machine"]
    lines += [
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores shared with other sessions, "
        f"{machine['memory_gib']} GiB, {machine['os']}, Python {machine['python']}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app()
