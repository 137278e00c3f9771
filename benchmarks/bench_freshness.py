"""How fresh are recommendations: from a rating accepted by the Movies API to a changed list served
by the Recommendations API, through the online loop (fold-in overlays), on both sets of adapters.

    .venv/bin/python benchmarks/bench_freshness.py [--trials 40] [--output benchmarks/results/freshness.json]

embedded:   Movies API -> SQLite rating store -> updater (polls the store) -> SQLite RecStore -> API
production: Movies API -> Kafka (librdkafka's mock cluster) -> updater (its own consumer group,
            history from ClickHouse) -> Redis -> API

Both APIs run under uvicorn on loopback ports; the model is the engine's, trained on MovieLens-100K
(the seed set). Each trial: read a user's list from the Recommendations API, rate its first film
through the Movies API (timer starts when the 202 arrives), poll the Recommendations API every
``POLL_S`` until the list no longer holds that film. Half the trials are users the model knows,
half are new users (their first rating: no list before, a personal one after).

A second part times one fold-in (``HybridModel.fold_in`` + the masked top-k of ``rank_lists``) at
20,000 films with random model parameters of the engine's shapes (64 factors, EASE 20,000 x 20,000):
the cost per event of the online loop on a larger catalogue.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import numpy as np
import pandas as pd
import scipy.sparse as sp
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_ugc_pipeline import kafka_cluster, private_clickhouse

from movies_api.bootstrap import create_app as create_movies_app
from movies_api.settings import MoviesApiSettings
from recommendations_api.bootstrap import create_app as create_recommendations_app
from recommendations_api.settings import ApiSettings
from recommender_engine.bootstrap import bootstrap, online
from recommender_engine.lists import pool_size
from recommender_engine.model.features import FeatureFlags, build_item_features
from recommender_engine.model.hybrid import HybridModel, HybridParams, ModelConfig
from recommender_engine.ranking import GenreIndex, rank_lists
from recommender_engine.settings import EngineSettings
from recsys_common.adapters.kafka_publisher import KafkaRatingPublisher
from recsys_common.columns import Columns
from recsys_common.domain import RatingEvent
from recsys_common.machine import machine_info
from recsys_common.tokens import issue_token
from recsys_datasets import build_seed
from recsys_datasets.frames import films_from_frame
from tests.servers import serve_in_thread

SECRET = "benchmark-secret-of-at-least-thirty-two-bytes"
POLL_S = 0.01
TIMEOUT_S = 10.0
TARGET_P95_S = 1.0
REDIS_URL = "redis://127.0.0.1:6379/0"
LARGE_FILMS = 20_000
FACTORS = 64
FOLD_IN_RATINGS = 30
FOLD_IN_REPEATS = 50
TARGET_FOLD_IN_MS = 5.0


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


@contextmanager
def stack(mode: str, data_dir: Path, cache_dir: Path) -> Iterator[tuple[str, str, Any]]:
    """The engine trained once, both APIs served and the updater running; yields their URLs and the updater."""
    seed = build_seed(cache_dir, progress=False)
    with contextlib.ExitStack() as exits:
        common: dict[str, Any] = {"data_dir": data_dir}
        if mode == "production":
            clickhouse = exits.enter_context(private_clickhouse())
            bootstrap_servers = exits.enter_context(kafka_cluster(None))
            common |= {
                "clickhouse_url": clickhouse,
                "redis_url": REDIS_URL,
                "redis_prefix": f"bench-{uuid.uuid4().hex}",
            }
        settings = EngineSettings(**common)
        engine_app = bootstrap(settings)
        exits.callback(engine_app.close)
        engine_app.catalog.upsert(films_from_frame(seed.films))
        engine_app.ratings.append(seed.ratings)
        engine_app.engine.run_cycle()
        online_settings = settings
        if mode == "production":
            online_settings = EngineSettings(**common, kafka_bootstrap=bootstrap_servers)
            warm_up(bootstrap_servers, str(seed.films[Columns.Item].iloc[0]))
        online_app = online(online_settings)
        exits.callback(online_app.close)
        stop = threading.Event()
        thread = threading.Thread(target=online_app.updater.run, args=(stop,), daemon=True)
        thread.start()
        exits.callback(thread.join, 5.0)
        exits.callback(stop.set)
        api_settings = ApiSettings(**common, current_refresh_ms=100)
        recommendations_url = exits.enter_context(serve_in_thread(create_recommendations_app(api_settings), "on"))
        movies_kwargs: dict[str, Any] = {}
        if mode == "production":
            movies_kwargs["publisher"] = KafkaRatingPublisher(bootstrap_servers)
        movies_settings = MoviesApiSettings(
            data_dir=data_dir, jwt_secret=SECRET, recommendations_api_url=recommendations_url
        )
        movies_url = exits.enter_context(serve_in_thread(create_movies_app(movies_settings, **movies_kwargs), "on"))
        time.sleep(1.0 if mode == "embedded" else 6.0)  # the updater's first rebalance (Kafka) and version load
        yield movies_url, recommendations_url, online_app.updater


def warm_up(bootstrap_servers: str, film: str) -> None:
    """Create the ratings topic before the updater subscribes (compose's kafka-init does it there)."""
    publisher = KafkaRatingPublisher(bootstrap_servers)
    publisher.publish(RatingEvent(str(uuid.uuid4()), "bench-warm-up", film, 5.0, int(time.time())), TIMEOUT_S)
    publisher.close()


def trial(movies: httpx.Client, recommendations: httpx.Client, user: str, fallback_film: str) -> float:
    path = f"/api/v1/users/{user}/recommendations"
    before = recommendations.get(path, params={"limit": 20}).json()["film_ids"]
    film = before[0] if before else fallback_film
    token = issue_token(user, SECRET)
    answer = movies.post(
        f"/api/v1/films/{film}/rating", json={"score": 9}, headers={"Authorization": f"Bearer {token}"}
    )
    if answer.status_code != 202:
        raise RuntimeError(f"rating refused: {answer.status_code} {answer.text}")
    started = time.perf_counter()
    while time.perf_counter() - started < TIMEOUT_S:
        body = recommendations.get(path, params={"limit": 20}).json()
        if film not in body["film_ids"] and body["source"] == "personal":
            return time.perf_counter() - started
        time.sleep(POLL_S)
    return float("inf")


def bench_mode(mode: str, trials: int, cache_dir: Path) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix=f"bench-freshness-{mode}-") as tmp,
        stack(mode, Path(tmp), cache_dir) as (
            movies_url,
            recommendations_url,
            updater,
        ),
    ):
        latencies: dict[str, list[float]] = {"known": [], "new": []}
        with (
            httpx.Client(base_url=movies_url, timeout=5) as movies,
            httpx.Client(base_url=recommendations_url, timeout=5) as recommendations,
        ):
            cold = recommendations.get("/api/v1/users/nobody/recommendations").json()["film_ids"][0]
            for n in range(trials):
                kind = "known" if n % 2 == 0 else "new"
                user = f"ml100k:{n + 1}" if kind == "known" else f"bench-new-{uuid.uuid4().hex[:8]}"
                latencies[kind].append(trial(movies, recommendations, user, cold))
        every = latencies["known"] + latencies["new"]
        folds = [1000 * s for s in updater.stats.fold_seconds]
        return {
            "trials": len(every),
            "p50_s": round(percentile(every, 50), 3),
            "p95_s": round(percentile(every, 95), 3),
            "max_s": round(max(every), 3),
            "known_users_p95_s": round(percentile(latencies["known"], 95), 3),
            "new_users_p95_s": round(percentile(latencies["new"], 95), 3),
            "timeouts": sum(1 for value in every if value == float("inf")),
            "fold_in_ms_p50": round(percentile(folds, 50), 2),
            "fold_in_ms_p95": round(percentile(folds, 95), 2),
            "target_p95_s": TARGET_P95_S,
        }


def bench_fold_in_cost(n_films: int) -> dict[str, Any]:
    """Time one event's fold-in and ranking at ``n_films`` films (random parameters, engine shapes)."""
    rng = np.random.default_rng(0)
    genres = [f"g{i}" for i in range(18)]
    films = pd.DataFrame(
        {"film_id": [f"f{i}" for i in range(n_films)], "genres": [(genres[i % 18],) for i in range(n_films)]}
    )
    features = build_item_features(films, FeatureFlags(), rating_counts=np.ones(n_films))
    n_features = features.n_features
    users = 10
    rated = rng.random((users, n_films)) < FOLD_IN_RATINGS / n_films
    history = sp.csr_matrix(np.where(rated, rng.integers(1, 11, size=rated.shape), 0).astype(np.float32))
    params = HybridParams(
        user_embeddings=rng.normal(size=(users, FACTORS)).astype(np.float32),
        user_biases=np.zeros(users, dtype=np.float32),
        feature_embeddings=rng.normal(scale=0.1, size=(n_features, FACTORS)).astype(np.float32),
        feature_biases=rng.normal(scale=0.1, size=n_features).astype(np.float32),
        item_features=features,
        ease=rng.normal(scale=0.01, size=(n_films, n_films)).astype(np.float32),
        history=history,
    )
    model = HybridModel(ModelConfig())
    model.set_params(params)
    groups = [np.flatnonzero(np.arange(n_films) % 18 == g).astype(np.int32) for g in range(18)]
    genre_index = GenreIndex(groups, n_films)
    row = sp.csr_matrix(history[0])
    pool = pool_size(100, 20, len(groups))
    timings = []
    for _ in range(FOLD_IN_REPEATS):
        started = time.perf_counter()
        scores = model.fold_in(row)
        rank_lists(scores, row, 100, genre_index, 20, pool)
        timings.append(1000 * (time.perf_counter() - started))
    return {
        "films": n_films,
        "factors": FACTORS,
        "ratings_of_the_user": FOLD_IN_RATINGS,
        "ms_p50": round(statistics.median(timings), 2),
        "ms_p95": round(percentile(timings, 95), 2),
        "target_ms": TARGET_FOLD_IN_MS,
        "note": "random parameters of the engine's shapes, EASE blended; fold-in plus must_watch and 18 genre lists",
    }


app = typer.Typer(add_completion=False)


@app.command(help=__doc__.split("\n\n")[0] if __doc__ else None)
def main(
    trials: Annotated[int, typer.Option()] = 40,
    modes: Annotated[str, typer.Option()] = "embedded,production",
    cache_dir: Annotated[Path, typer.Option()] = Path("data/cache"),
    output: Annotated[Path | None, typer.Option()] = None,
) -> None:
    result: dict[str, Any] = {"benchmark": "freshness", "machine": machine_info()}
    result["fold_in_cost"] = bench_fold_in_cost(LARGE_FILMS)
    print(json.dumps(result["fold_in_cost"]), flush=True)
    for mode in modes.split(","):
        result[mode] = bench_mode(mode, trials, cache_dir)
        print(mode, json.dumps(result[mode]), flush=True)
    result["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    app()
