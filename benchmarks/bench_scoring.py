"""Scoring and publishing benchmark on synthetic data (issue: engine core, item 9).

Measures, in one run, on 200,000 users x 20,000 films with ~5M ratings and 64 factors:
- users/s of LightFM's ``predict`` per user (the loop the engine replaces), on a sample of users,
  with the same seen-masking and top-100 selection;
- users/s of the engine's scorer (block matrix product + mask + fused top-k), must_watch only and
  with 18 per-genre lists;
- publish throughput of those lists to Redis and the bytes each user costs there.

Usage: python benchmarks/bench_scoring.py [--users N --films M ...] [--output PATH]
Needs Redis (RECSYS_REDIS_URL or redis://127.0.0.1:6379/0); keys go under a unique prefix and are
deleted at the end.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import redis
import scipy.sparse as sp
import typer
from lightfm import LightFM

from recommender_engine.lists import ListBlock, personal_lists
from recommender_engine.model.features import ItemFeatures
from recommender_engine.model.hybrid import HybridModel, HybridParams, ModelConfig
from recommender_engine.ranking import GenreIndex, rank_block
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.listcodec import ListLayout
from recsys_common.machine import machine_info
from recsys_common.ports.recstore import VersionMeta

N_GENRES = 18
GENRE_LEN = 20
MUST_WATCH = 100


def synthetic_interactions(n_users: int, n_films: int, n_ratings: int, rng: np.random.Generator) -> sp.csr_matrix:
    """Power-law film popularity, ~n_ratings distinct (user, film) pairs."""
    popularity = 1.0 / np.arange(1, n_films + 1) ** 0.8
    popularity /= popularity.sum()
    users = rng.integers(0, n_users, n_ratings)
    films = rng.choice(n_films, n_ratings, p=popularity)
    matrix = sp.csr_matrix((np.ones(n_ratings, dtype=np.float32), (users, films)), shape=(n_users, n_films))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


app = typer.Typer(add_completion=False)


@app.command(help=__doc__)
def main(
    users: Annotated[int, typer.Option()] = 200_000,
    films: Annotated[int, typer.Option()] = 20_000,
    ratings: Annotated[int, typer.Option()] = 5_000_000,
    factors: Annotated[int, typer.Option()] = 64,
    predict_sample: Annotated[int, typer.Option()] = 500,
    threads: Annotated[int, typer.Option()] = 2,
    block_size: Annotated[int, typer.Option()] = 1024,
    redis_url: Annotated[str | None, typer.Option(help="default: RECSYS_REDIS_URL, else the local Redis")] = None,
    output: Annotated[Path, typer.Option()] = Path("benchmarks/results/scoring.json"),
) -> None:
    redis_url = redis_url or os.environ.get("RECSYS_REDIS_URL", "redis://127.0.0.1:6379/0")
    params = {
        "users": users,
        "films": films,
        "ratings": ratings,
        "factors": factors,
        "predict_sample": predict_sample,
        "threads": threads,
        "block_size": block_size,
        "redis_url": redis_url,
        "output": str(output),
    }
    rng = np.random.default_rng(42)
    result: dict[str, object] = {"machine": machine_info(), "params": params}

    tick = time.perf_counter()
    seen = synthetic_interactions(users, films, ratings, rng)
    result["ratings_after_dedup"] = int(seen.nnz)
    lightfm = LightFM(no_components=factors, loss="warp", random_state=np.random.RandomState(42))
    lightfm.fit_partial(seen.tocoo(), epochs=1, num_threads=threads)
    result["fit_one_epoch_seconds"] = round(time.perf_counter() - tick, 2)

    # 1. LightFM predict, one call per user, then the same mask + top-100.
    sample = rng.choice(users, predict_sample, replace=False)
    all_films = np.arange(films, dtype=np.int32)
    tick = time.perf_counter()
    for user in sample:
        scores = lightfm.predict(int(user), all_films, num_threads=threads).astype(np.float32)[None, :]
        rank_block(scores, seen[int(user)], MUST_WATCH)
    predict_rate = len(sample) / (time.perf_counter() - tick)

    # 2. The engine's scorer over every user.
    model = HybridModel(ModelConfig(no_components=factors))
    identity = ItemFeatures(sp.identity(films, dtype=np.float32, format="csr"), tuple(map(str, all_films)))
    model.set_params(
        HybridParams(
            user_embeddings=lightfm.user_embeddings.astype(np.float32),
            user_biases=lightfm.user_biases.astype(np.float32),
            feature_embeddings=lightfm.item_embeddings.astype(np.float32),
            feature_biases=lightfm.item_biases.astype(np.float32),
            item_features=identity,
        )
    )
    genre_of = rng.integers(0, N_GENRES, films)
    groups = [np.flatnonzero(genre_of == g).astype(np.int32) for g in range(N_GENRES)]

    def run_scorer(with_genres: bool) -> tuple[float, list[ListBlock]]:
        tick = time.perf_counter()
        blocks = list(
            personal_lists(
                model.score_block,
                seen,
                GenreIndex(groups if with_genres else [], films),
                MUST_WATCH,
                GENRE_LEN,
                block_size,
                threads,
            )
        )
        return users / (time.perf_counter() - tick), blocks

    scorer_rate, _ = run_scorer(with_genres=False)
    scorer_genre_rate, blocks = run_scorer(with_genres=True)

    # 3. Publish those lists to Redis.
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    store = RedisRecStore(redis_url, prefix=prefix)
    layout = ListLayout.for_catalogue(films, MUST_WATCH, GENRE_LEN, [f"genre-{g}" for g in range(N_GENRES)])
    meta = VersionMeta(version="bench", model_version="bench", trained_at="", layout=layout)
    user_ids = [f"user-{u}" for u in range(users)]
    client = redis.Redis.from_url(redis_url)
    try:
        tick = time.perf_counter()
        writer = store.begin(meta, [str(uuid.UUID(int=i)) for i in range(films)])
        for block in blocks:
            writer.put_block([user_ids[u] for u in block.users], block.must_watch, block.by_genre)
        writer.commit()
        publish_rate = users / (time.perf_counter() - tick)
        memory = sum(int(client.memory_usage(k, samples=0) or 0) for k in client.scan_iter(f"{prefix}:*users*"))
        bytes_per_user = memory / users
    finally:
        for pattern in (f"{prefix}:*", f"{{{prefix}}}:*"):  # the version's keys, the control keys
            for key in client.scan_iter(pattern):
                client.unlink(key)
        store.close()

    result["results"] = {
        "lightfm_predict_users_per_s": round(predict_rate, 1),
        "engine_scorer_users_per_s": round(scorer_rate, 1),
        "engine_scorer_with_18_genre_lists_users_per_s": round(scorer_genre_rate, 1),
        "speedup_vs_predict": round(scorer_rate / predict_rate, 1),
        "publish_redis_users_per_s": round(publish_rate, 1),
        "redis_bytes_per_user": round(bytes_per_user, 1),
        "record_bytes_per_user": layout.record_bytes,
    }
    result["targets"] = {
        "engine_scorer_users_per_s": ">= 10000",
        "speedup_vs_predict": ">= 7",
        "publish_redis_users_per_s": ">= 50000",
        "redis_bytes_per_user": "<= 1536",
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(pd.Series(result["results"]).to_string())
    print(f"written to {output}")


if __name__ == "__main__":
    app()
