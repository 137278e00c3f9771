"""The app as its composition root wires it from settings alone: SQLite catalogue (filled by the
seed step) and the embedded rating store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.columns import Columns
from recsys_common.tokens import issue_token

pytestmark = pytest.mark.integration

SECRET = "integration-test-secret-32-bytes-long!"


@pytest.fixture
def settings(tmp_path, films) -> MoviesApiSettings:
    settings = MoviesApiSettings(data_dir=tmp_path, jwt_secret=SECRET)
    catalog = SqliteCatalog(settings.catalog_db)
    catalog.upsert(films)  # what `recsys data` does with the seed films
    catalog.close()
    return settings


def test_embedded_app_searches_the_etl_catalogue_and_stores_ratings(settings, films) -> None:
    token = issue_token("viewer-9", SECRET)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health/ready").json() == {"status": "ready", "checks": {"catalog": "ok", "publisher": "ok"}}
        found = client.get("/api/v1/films", params={"query": "charlie"}).json()
        assert [f["title"] for f in found["films"]] == ["Charlie"]
        film_id = found["films"][0]["film_id"]
        response = client.post(
            f"/api/v1/films/{film_id}/rating", json={"score": 9}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 202
    ratings = SqliteRatingStore(settings.ratings_db).read_all()
    assert ratings[[Columns.User, Columns.Item, Columns.Rating]].values.tolist() == [["viewer-9", film_id, 9.0]]


def test_embedded_app_before_the_etl_is_not_ready(tmp_path) -> None:
    settings = MoviesApiSettings(data_dir=tmp_path, jwt_secret=SECRET)
    with TestClient(create_app(settings)) as client:
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert "run the ETL" in response.json()["checks"]["catalog"]
