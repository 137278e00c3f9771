"""Similar films end to end: the real engine publishes them to Redis (and to the SQLite store), the
Recommendations API serves their ids over HTTP, the Movies API returns them as film cards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app as create_movies_app
from movies_api.settings import MoviesApiSettings
from recommendations_api.bootstrap import create_app as create_recommendations_app
from recommendations_api.settings import ApiSettings
from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.adapters.redis_recstore import RedisRecStore
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.columns import Columns
from recsys_common.ports.recstore import SIMILAR_MAX, RecStore
from recsys_datasets.frames import films_from_frame
from tests.datasets import synthetic_films, synthetic_ratings
from tests.servers import serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

FILMS = synthetic_films(60, source="similar")


@pytest.fixture(params=["redis", "sqlite"])
def store_and_settings(request, tmp_path: Path) -> Iterator[tuple[RecStore, ApiSettings]]:
    if request.param == "sqlite":
        settings = ApiSettings(data_dir=tmp_path, current_refresh_ms=0)
        store: RecStore = SqliteRecStore(settings.recstore_db)
    else:
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        store = RedisRecStore(url, prefix=prefix)
        settings = ApiSettings(data_dir=tmp_path, redis_url=url, redis_prefix=prefix, current_refresh_ms=0)
    yield store, settings
    store.close()


def test_published_similar_films_reach_the_film_page_as_cards(store_and_settings, tmp_path: Path) -> None:
    store, api_settings = store_and_settings
    ratings = SqliteRatingStore(tmp_path / "ratings.sqlite")
    ratings.append(synthetic_ratings(FILMS, n_users=25, per_user=10))
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert(films_from_frame(FILMS))
    catalog.close()
    engine = Engine(
        ratings=ratings,
        store=store,
        films=lambda: FILMS,
        lists=ListConfig(must_watch_len=10, genre_len=3, cold_start_len=10),
        model=ModelConfig(epochs=3, no_components=8),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    )
    assert engine.run_cycle().status == "published"
    film = str(FILMS[Columns.Item][7])

    with serve_in_thread(create_recommendations_app(api_settings), lifespan="on") as url:
        ids = httpx.get(f"{url}/api/v1/films/{film}/similar").json()
        assert len(ids["film_ids"]) == SIMILAR_MAX and film not in ids["film_ids"]
        settings = MoviesApiSettings(data_dir=tmp_path, recommendations_api_url=url)
        with TestClient(create_movies_app(settings)) as movies:
            response = movies.get(f"/api/v1/films/{film}/similar", params={"limit": 10})
            assert response.status_code == 200, response.text
            assert response.headers["X-Similar-Source"] == "model"
            cards = response.json()
            assert [card["film_id"] for card in cards] == ids["film_ids"][:10]
            titles = dict(zip(FILMS[Columns.Item], FILMS[Columns.Title], strict=True))
            assert all(card["title"] == titles[card["film_id"]] for card in cards)
