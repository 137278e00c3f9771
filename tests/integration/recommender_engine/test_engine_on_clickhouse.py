"""The production configuration: `recsys data` loads a ratings set into ClickHouse, and the same
engine cycle runs unchanged on it when RECSYS_CLICKHOUSE_URL is set, publishing to real Redis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from recommender_engine.cli import app
from recsys_common.adapters.clickhouse_ratings import ClickHouseRatingStore
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.columns import Columns
from tests.datasets import synthetic_films, synthetic_ratings

pytestmark = pytest.mark.integration

STARS_PER_POINT = 2  # MovieLens stars (0.5..5) -> platform scale (1..10)


def _write_movielens_csv(directory: Path) -> pd.DataFrame:
    """A small set in the MovieLens CSV layout; returns the ratings on the platform scale."""
    films = synthetic_films(50, source="chtest")
    ratings = synthetic_ratings(films, n_users=20, per_user=8)
    movie_ids = {film: n for n, film in enumerate(films[Columns.Item], start=1)}
    directory.mkdir()
    pd.DataFrame(
        {
            "movieId": list(movie_ids.values()),
            "title": [f"{t} ({y})" for t, y in zip(films[Columns.Title], films[Columns.Year], strict=True)],
            "genres": ["|".join(g) for g in films[Columns.Genres]],
        }
    ).to_csv(directory / "movies.csv", index=False)
    stars = (ratings[Columns.Rating] / STARS_PER_POINT).clip(lower=0.5)
    pd.DataFrame(
        {
            "userId": ratings[Columns.User].str.removeprefix("user-").astype(int),
            "movieId": ratings[Columns.Item].map(movie_ids),
            "rating": stars,
            "timestamp": ratings[Columns.Timestamp],
        }
    ).to_csv(directory / "ratings.csv", index=False)
    return ratings


def test_data_step_loads_clickhouse_and_the_cycle_runs_on_it(
    clickhouse_url, redis_url, redis_prefix, tmp_path, monkeypatch
):
    prefix = redis_prefix
    source = tmp_path / "movielens"
    ratings = _write_movielens_csv(source)
    for key, value in {
        "RECSYS_DATA_DIR": str(tmp_path / "var"),
        "RECSYS_CLICKHOUSE_URL": clickhouse_url,
        "RECSYS_REDIS_URL": redis_url,
        "RECSYS_REDIS_PREFIX": prefix,
        "RECSYS_MODEL__EPOCHS": "3",
        "RECSYS_MODEL__NO_COMPONENTS": "8",
    }.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    loaded = runner.invoke(app, ["data", "--movielens-dir", str(source)])
    assert loaded.exit_code == 0, loaded.output
    store = ClickHouseRatingStore(clickhouse_url)
    assert len(store.read_all()) == len(ratings)
    assert runner.invoke(app, ["data", "--movielens-dir", str(source)]).exit_code == 0
    assert len(store.read_all()) == len(ratings), "loading the same set twice must not duplicate ratings"

    first = runner.invoke(app, ["run"])
    assert first.exit_code == 0, first.output
    assert "published" in first.output
    recstore = RedisRecStore(redis_url, prefix=prefix)
    meta = recstore.current()
    assert meta is not None
    assert meta.n_users == ratings[Columns.User].nunique()
    assert meta.watermark == store.watermark()
    assert "skipped" in runner.invoke(app, ["run"]).output

    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0
    assert meta.version in status.output
    recstore.close()
