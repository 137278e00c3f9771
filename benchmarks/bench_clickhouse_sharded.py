"""Benchmark of the sharded rating store against the single-node one, in the same run.

    python benchmarks/bench_clickhouse_sharded.py --output benchmarks/results/clickhouse_sharded.json

Starts private ``clickhouse-server`` processes on free ports (the integration tests' server code,
``tests/integration/conftest.py``): one single server (the reference) and two servers forming a
two-shard cluster, all on this machine. For each layout, ``ClickHouseRatingStore`` appends N ratings
(R users, distinct pairs) in the loader's batch size, then reads them: ``read_all`` (FINAL through the
Distributed table), ``read_user`` of random users and ``watermark``; ``--runs`` alternates the two
layouts (each run in fresh databases) and reports the median ratio. Both shards share this machine's
cores, so the sharded figures show the cost of the Distributed layer, not the gain of a second
machine: with a server per machine each shard holds 1/S of the rows and merges its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore  # noqa: E402
from recsys_common.events import RatingRows  # noqa: E402
from recsys_common.ids import film_id_for  # noqa: E402
from recsys_common.machine import machine_info  # noqa: E402
from tests.integration.conftest import ClickHouseCluster, ClickHouseServer  # noqa: E402

DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "clickhouse_sharded.json"
T0 = 1_700_000_000
FILMS = 5_000
READ_REPEATS = 3
USER_READS = 200
SMALL_REPEATS = 50


def make_batches(rows: int, users: int, batch: int, seed: int = 7) -> list[RatingRows]:
    """``rows`` ratings of ``users`` users over distinct (user, film) pairs, split into batches."""
    rng = np.random.default_rng(seed)
    films = np.array([film_id_for(f"bench:{i}") for i in range(FILMS)], dtype=object)
    n = np.arange(rows)
    user_ids = np.array([f"user{u}" for u in n % users], dtype=object)
    film_ids = films[(n // users + n % users) % FILMS]
    ratings = rng.integers(1, 11, rows).astype(np.float64)
    stamps = (T0 + n).astype(np.int64)
    event_ids = np.array([f"bench-{i}" for i in n], dtype=object)
    return [
        RatingRows(
            event_ids[s : s + batch],
            user_ids[s : s + batch],
            film_ids[s : s + batch],
            ratings[s : s + batch],
            stamps[s : s + batch],
        )
        for s in range(0, rows, batch)
    ]


def timed(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def measure(store: ClickHouseRatingStore, batches: list[RatingRows], users: int) -> dict[str, Any]:
    rows = sum(len(b) for b in batches)
    store.ensure_schema()
    append_s = timed(lambda: [store.append(batch) for batch in batches])
    reads = []
    for _ in range(READ_REPEATS):
        began = time.perf_counter()
        frame = store.read_all()
        reads.append(time.perf_counter() - began)
        assert len(frame) == rows, f"read {len(frame)} of {rows} rows"
        del frame
    rng = np.random.default_rng(1)
    per_user = []
    for user in rng.integers(0, users, USER_READS):
        began = time.perf_counter()
        store.read_user(f"user{user}")
        per_user.append(time.perf_counter() - began)
    watermarks = [timed(store.watermark) for _ in range(SMALL_REPEATS)]
    return {
        "append_seconds": round(append_s, 2),
        "append_rows_per_s": round(rows / append_s),
        "read_all_seconds": [round(t, 2) for t in reads],
        "read_all_rows_per_s_best": round(rows / min(reads)),
        "read_user_ms_median": round(1000 * statistics.median(per_user), 2),
        "watermark_ms_median": round(1000 * statistics.median(watermarks), 2),
    }


app = typer.Typer(add_completion=False)


def ratios(one: dict[str, Any], two: dict[str, Any]) -> dict[str, float]:
    """Two shards relative to the single node: rates (> 1: faster) and the per-user read time (< 1: faster)."""
    return {
        "append_rate": round(two["append_rows_per_s"] / one["append_rows_per_s"], 2),
        "read_all_rate": round(two["read_all_rows_per_s_best"] / one["read_all_rows_per_s_best"], 2),
        "read_user_time": round(two["read_user_ms_median"] / one["read_user_ms_median"], 2),
    }


def rows_per_shard(cluster: ClickHouseCluster, database: str) -> list[int]:
    counts = []
    for server in cluster.servers:
        client = server.client(database)
        counts.append(int(client.execute("SELECT count() FROM ratings_local")[0][0]))
        client.disconnect()
    return counts


@app.command(help=__doc__)
def main(
    rows: Annotated[int, typer.Option(help="ratings appended and read")] = 1_000_000,
    users: Annotated[int, typer.Option(help="distinct users")] = 50_000,
    batch_size: Annotated[int, typer.Option(help="rows per append (the loader's batch)")] = 50_000,
    runs: Annotated[int, typer.Option(help="alternating runs of both layouts (the machine is shared)")] = 3,
    output: Annotated[Path, typer.Option()] = DEFAULT_OUTPUT,
) -> None:
    batches = make_batches(rows, users, batch_size)
    result: dict[str, Any] = {
        "benchmark": "clickhouse_sharded",
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {**machine_info(), "load_average_at_start": list(os.getloadavg())},
        "rows": rows,
        "users": users,
        "batch_size": batch_size,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="bench-sharded-") as tmp:
        single = ClickHouseServer(Path(tmp) / "single")
        cluster = ClickHouseCluster(Path(tmp) / "cluster")
        single.start()
        cluster.start()
        try:
            for run in range(runs):
                database = f"bench{run}"
                reference = ClickHouseRatingStore(single.url(database), create_schema=True)
                sharded = ClickHouseRatingStore(cluster.url(database), cluster=cluster.name, create_schema=True)
                if run == 0:
                    ((version,),) = reference._execute("SELECT version()")
                    result["machine"]["clickhouse_server"] = version
                one = measure(reference, batches, users)
                two = {**measure(sharded, batches, users), "rows_per_shard": rows_per_shard(cluster, database)}
                reference.close()
                sharded.close()
                entry = {"single_node": one, "two_shards": two, "two_shards_vs_single": ratios(one, two)}
                print(json.dumps(entry), flush=True)
                result["runs"].append(entry)
        finally:
            single.stop(kill=True)
            cluster.stop()
    per_run = [entry["two_shards_vs_single"] for entry in result["runs"]]
    result["two_shards_vs_single_median"] = {key: statistics.median(r[key] for r in per_run) for key in per_run[0]}
    result["machine"]["load_average_at_end"] = list(os.getloadavg())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["two_shards_vs_single_median"]))
    print(f"wrote {output}")


if __name__ == "__main__":
    app()
