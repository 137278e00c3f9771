"""The Redis RecStore on one server and on a local three-node Redis Cluster, in the same run.

1. starts a private cluster of three ``redis-server`` primaries (``tests/redis_cluster.py``) next
   to the standalone Redis (``RECSYS_REDIS_URL``, else the local one: the reference);
2. publishes the same realistic version to each (MovieLens-100K's 1,682 films, 100 must-watch + 18
   genres x 20 per user) and measures users/s and bytes per user (MEMORY USAGE of every bucket hash),
   and on the cluster the share of the version's bytes each node holds;
3. reads random users' lists the way the API does (``user_list``: one HMGET), one after another, in
   alternating rounds: wall and this process's CPU microseconds per read;
4. writes the numbers and the machine (CPU, cores, RAM, load) to ``benchmarks/results/recstore_cluster.json``.

The cluster shares the machine's cores with the client, so this shows the cluster client's cost and
how evenly a version spreads, not a scale-out. Run:
``PYTHONPATH=. .venv/bin/python -m benchmarks.bench_recstore_cluster`` (needs Redis and ``redis-server``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from recsys_common.adapters.redis_recstore import USER_BUCKETS, RedisRecStore
from recsys_common.ids import film_id_for
from recsys_common.listcodec import ListLayout
from recsys_common.machine import machine_info
from recsys_common.ports.recstore import VersionMeta
from recsys_common.settings import CommonSettings
from tests.redis_cluster import RedisClusterServers, client_for

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "recstore_cluster.json"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

USERS = 100_000
FILMS = 1_682
GENRES = 18
MUST_WATCH_LEN = 100
GENRE_LEN = 20
BLOCK = 10_000
READS = 20_000
ROUNDS = 3
LIMIT = 20


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def publish(store: RedisRecStore, users: int) -> tuple[VersionMeta, float]:
    """Publish ``users`` users' random lists; returns the version and the seconds the writer took."""
    genres = [f"genre{g:02d}" for g in range(GENRES)]
    films = [film_id_for(f"ml100k:{i}") for i in range(1, FILMS + 1)]
    layout = ListLayout.for_catalogue(FILMS, MUST_WATCH_LEN, GENRE_LEN, genres)
    meta = VersionMeta("bench", "bench-model", datetime.now(UTC).isoformat(), layout)
    rng = np.random.default_rng(42)
    blocks = []
    for start in range(0, users, BLOCK):
        n = min(BLOCK, users - start)
        must_watch = rng.integers(0, FILMS, size=(n, MUST_WATCH_LEN))
        by_genre = rng.integers(0, FILMS, size=(n, GENRES, GENRE_LEN))
        blocks.append(([str(start + i) for i in range(n)], must_watch, by_genre))
    started = time.perf_counter()
    writer = store.begin(meta, films)
    for user_ids, must_watch, by_genre in blocks:
        writer.put_block(user_ids, must_watch, by_genre)
    committed = writer.commit()
    return committed, time.perf_counter() - started


def bucket_bytes(url: str, prefix: str) -> int:
    client = client_for(url)
    try:
        keys = [f"{prefix}:v:bench:users:{bucket}" for bucket in range(USER_BUCKETS)]
        return sum(int(client.memory_usage(key, samples=0) or 0) for key in keys)
    finally:
        client.close()


def node_shares(cluster: RedisClusterServers, prefix: str) -> dict[str, float]:
    """Each node's share of the version's bucket bytes."""
    per_node: dict[str, int] = {}
    for port, keys in cluster.keys(f"{prefix}:v:bench:users:*").items():
        client = cluster.node(port)
        try:
            per_node[str(port)] = sum(int(client.memory_usage(key, samples=0) or 0) for key in keys)
        finally:
            client.close()
    total = sum(per_node.values())
    return {port: round(used / total, 3) for port, used in per_node.items()}


def read_round(store: RedisRecStore, meta: VersionMeta, films: tuple[str, ...], users: list[str]) -> dict[str, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for user in users:
        if store.user_list(user, meta, films, None, LIMIT) is None:
            raise RuntimeError(f"user {user} has no list")
    return {
        "wall_us_per_read": round((time.perf_counter() - wall) / len(users) * 1e6, 1),
        "cpu_us_per_read": round((time.process_time() - cpu) / len(users) * 1e6, 1),
    }


def delete_prefix(url: str, prefix: str) -> None:
    store = RedisRecStore(url, prefix=prefix)
    try:
        store.clear()
    finally:
        store.close()


app = typer.Typer(add_completion=False)


@app.command(help=__doc__.splitlines()[0] if __doc__ else None)
def main(
    redis_url: Annotated[str | None, typer.Option(help="default: RECSYS_REDIS_URL, else the local Redis")] = None,
    users: Annotated[int, typer.Option()] = USERS,
    reads: Annotated[int, typer.Option(help="reads per round")] = READS,
    rounds: Annotated[int, typer.Option(help="alternating server/cluster read rounds")] = ROUNDS,
    output: Annotated[Path, typer.Option()] = DEFAULT_OUTPUT,
) -> None:
    server_url = redis_url or CommonSettings().redis_url or DEFAULT_REDIS_URL
    prefix = f"bench:cluster:{uuid.uuid4().hex}"
    load_before = load_average()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-redis-cluster-") as workdir:
        cluster = RedisClusterServers(Path(workdir))
        cluster.start()
        urls = {"server": server_url, "cluster": cluster.url}
        stores = {name: RedisRecStore(url, prefix=prefix, socket_timeout_s=10.0) for name, url in urls.items()}
        try:
            metas = {}
            for name, store in stores.items():
                meta, seconds = publish(store, users)
                metas[name] = meta
                results[name] = {
                    "publish_users_per_s": round(users / seconds),
                    "bytes_per_user": round(bucket_bytes(urls[name], prefix) / users, 1),
                    "reads": [],
                }
                print(f"{name}: published {users:,} users at {results[name]['publish_users_per_s']:,} users/s")
            results["cluster"]["node_shares"] = node_shares(cluster, prefix)
            films = stores["server"].films("bench")
            rng = np.random.default_rng(7)
            sample = [str(user) for user in rng.integers(0, users, size=reads)]
            for round_ in range(rounds):
                order = ("server", "cluster") if round_ % 2 == 0 else ("cluster", "server")
                for name in order:
                    measured = read_round(stores[name], metas[name], films, sample)
                    results[name]["reads"].append(measured)
                    print(f"round {round_ + 1} {name}: {measured}")
            for name in stores:
                rounds_ = results[name]["reads"]
                results[name]["wall_us_per_read_median"] = float(np.median([r["wall_us_per_read"] for r in rounds_]))
                results[name]["cpu_us_per_read_median"] = float(np.median([r["cpu_us_per_read"] for r in rounds_]))
        finally:
            for name, store in stores.items():
                store.close()
                delete_prefix(urls[name], prefix)
            cluster.stop()
    server, on_cluster = results["server"], results["cluster"]
    report = {
        "benchmark": "recstore_cluster",
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {**machine_info(), "load_average_before": load_before, "load_average_after": load_average()},
        "setup": {
            "reference": "one redis-server (the machine's), same adapter and key layout",
            "cluster": "three redis-server primaries on this machine, redis-py RedisCluster",
            "users": users,
            "films": FILMS,
            "layout": f"{MUST_WATCH_LEN} must-watch + {GENRES} genres x {GENRE_LEN}",
            "user_buckets": USER_BUCKETS,
            "read": f"user_list(limit={LIMIT}), one HMGET, sequential, {reads} reads x {rounds} rounds",
        },
        "server": server,
        "cluster": on_cluster,
        "cluster_vs_server": {
            "publish": round(on_cluster["publish_users_per_s"] / server["publish_users_per_s"], 2),
            "read_wall": round(on_cluster["wall_us_per_read_median"] / server["wall_us_per_read_median"], 2),
            "read_cpu": round(on_cluster["cpu_us_per_read_median"] / server["cpu_us_per_read_median"], 2),
        },
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["cluster_vs_server"]))
    print(f"wrote {output}")


if __name__ == "__main__":
    app()
