"""The whole loop on the embedded default: a viewer rates films through the Movies API, the engine
cycle runs, and the viewer's recommendations come back through the Movies API as film cards that
do not contain the rated films."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app as create_movies_app
from movies_api.settings import MoviesApiSettings
from recommendations_api.bootstrap import create_app as create_recommendations_app
from recommendations_api.settings import ApiSettings
from recommender_engine.cycle import CycleJournal, Engine, ListConfig
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.columns import Columns
from recsys_common.tokens import issue_token
from recsys_datasets.frames import films_from_frame
from tests.datasets import synthetic_films, synthetic_ratings
from tests.servers import serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECRET = "e2e-secret-of-at-least-thirty-two-bytes!"
VIEWER = "viewer-42"
RATED = 6


def test_rate_then_cycle_then_recommendations_as_film_cards(tmp_path: Path):
    films = synthetic_films(80, source="loop")
    ratings = SqliteRatingStore(tmp_path / "ratings.sqlite")
    ratings.append(synthetic_ratings(films, n_users=30, per_user=12))
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert(films_from_frame(films))
    catalog.close()
    engine = Engine(
        ratings=ratings,
        store=SqliteRecStore(tmp_path / "recstore.sqlite"),
        films=lambda: films,
        lists=ListConfig(must_watch_len=30, genre_len=5, cold_start_len=20),
        model=ModelConfig(epochs=5, no_components=16),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    )
    engine.run_cycle()

    recommendations_app = create_recommendations_app(ApiSettings(data_dir=tmp_path, current_refresh_ms=0))
    with serve_in_thread(recommendations_app, lifespan="on") as recommendations_url:
        settings = MoviesApiSettings(data_dir=tmp_path, recommendations_api_url=recommendations_url, jwt_secret=SECRET)
        auth = {"Authorization": f"Bearer {issue_token(VIEWER, SECRET)}"}
        with TestClient(create_movies_app(settings)) as movies:
            before = movies.get("/api/v1/users/me/recommendations", params={"limit": 10}, headers=auth)
            assert before.status_code == 200, before.text
            assert before.json()["source"] == "cold_start"

            chosen = [card["film_id"] for card in before.json()["films"][:RATED]]
            for film_id in chosen:
                answer = movies.post(f"/api/v1/films/{film_id}/rating", json={"score": 9}, headers=auth)
                assert answer.status_code == 202, answer.text

            assert engine.run_cycle().status == "published"

            after = movies.get("/api/v1/users/me/recommendations", params={"limit": 10}, headers=auth)
            assert after.status_code == 200, after.text
            body = after.json()
            assert body["source"] == "personal"
            cards = body["films"]
            assert len(cards) == 10
            assert not {card["film_id"] for card in cards} & set(chosen)
            titles = dict(zip(films[Columns.Item], films[Columns.Title], strict=True))
            assert all(card["title"] == titles[card["film_id"]] for card in cards)
    stored = ratings.read_all()
    assert set(stored[stored[Columns.User] == VIEWER][Columns.Item]) == set(chosen)
