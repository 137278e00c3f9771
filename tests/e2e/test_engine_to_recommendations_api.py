"""The real engine publishes to real Redis (and to the SQLite store); the Recommendations API serves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from recommendations_api.bootstrap import create_app
from recommendations_api.settings import ApiSettings
from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.columns import Columns
from recsys_common.ports.recstore import RecStore
from tests.datasets import synthetic_films, synthetic_ratings

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

FILMS = synthetic_films(60, source="e2e")
RATINGS = synthetic_ratings(FILMS, n_users=25, per_user=10)


@pytest.fixture(params=["redis", "sqlite"])
def store_and_settings(request, tmp_path: Path) -> Iterator[tuple[RecStore, ApiSettings]]:
    if request.param == "sqlite":
        settings = ApiSettings(data_dir=tmp_path, current_refresh_ms=0)
        yield SqliteRecStore(settings.recstore_db), settings
        return
    url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    store = RedisRecStore(url, prefix=prefix)
    yield store, ApiSettings(data_dir=tmp_path, redis_url=url, redis_prefix=prefix, current_refresh_ms=0)
    store.close()


def _engine(store: RecStore, ratings: SqliteRatingStore, tmp_path: Path) -> Engine:
    return Engine(
        ratings=ratings,
        store=store,
        films=lambda: FILMS,
        lists=ListConfig(must_watch_len=20, genre_len=5, cold_start_len=10, block_size=8),
        model=ModelConfig(epochs=5, no_components=16),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    )


def test_engine_lists_are_served_by_the_api_and_new_versions_without_restart(store_and_settings, tmp_path):
    store, settings = store_and_settings
    ratings = SqliteRatingStore(tmp_path / "ratings.sqlite")
    ratings.append(RATINGS)
    engine = _engine(store, ratings, tmp_path)
    first = engine.run_cycle()

    rated = RATINGS.groupby(Columns.User)[Columns.Item].agg(set)
    with TestClient(create_app(settings)) as client:
        answer = client.get("/api/v1/users/user-3/recommendations", params={"limit": 20})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["source"] == "personal"
        assert len(body["film_ids"]) == 20
        assert not set(body["film_ids"]) & rated["user-3"]
        assert body["model_version"] == store.current().model_version

        comedy = client.get("/api/v1/users/user-3/recommendations", params={"genre": "Comedy", "limit": 5}).json()
        comedy_films = set(FILMS[FILMS[Columns.Genres].map(lambda g: "Comedy" in g)][Columns.Item])
        assert set(comedy["film_ids"]) <= comedy_films - rated["user-3"]

        stranger = client.get("/api/v1/users/nobody-yet/recommendations", params={"limit": 10}).json()
        assert stranger["source"] == "cold_start"
        assert stranger["film_ids"] == list(store.cold_start(first.version).overall)

        # A new rating arrives; the next cycle publishes a new version, served without a restart.
        new = RATINGS[RATINGS[Columns.User] == "user-1"].assign(**{Columns.User: "nobody-yet"})
        ratings.append(new)
        second = engine.run_cycle()
        assert second.version != first.version
        now = client.get("/api/v1/users/nobody-yet/recommendations", params={"limit": 10}).json()
        assert now["source"] == "personal"
        assert not set(now["film_ids"]) & set(new[Columns.Item])
