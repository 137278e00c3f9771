"""Similar films as cards: the real Recommendations API, served over HTTP from a real SQLite RecStore,
and the Movies API over the SQLite catalogue; the genre fallback when that API is down or has none."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from recommendations_api.bootstrap import create_app as create_recommendations_app
from recommendations_api.settings import ApiSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.domain import ColdStartLists, Film
from recsys_common.ids import film_id_for
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import VersionMeta
from tests.servers import serve_in_thread

pytestmark = pytest.mark.integration

SECRET = "integration-test-secret-32-bytes-long!"
GONE = film_id_for("it:gone")  # in the published version, no longer in the catalogue


def publish(store: SqliteRecStore, version: str, films: list[Film], with_similar: bool = True) -> None:
    """Version ``version`` over Alpha, Bravo, Charlie, Delta and a film the catalogue lost (Echo is
    newer than the version). Alpha's similar films: gone, Delta, Bravo, Charlie; Charlie's: Alpha."""
    table = [f.film_id for f in films[:4]] + [GONE]
    similar = np.full((len(table), 4), -1)
    similar[0] = [4, 3, 1, 2]
    similar[2, 0] = 0
    layout = ListLayout.for_catalogue(len(table), 5, 2, ("Drama",))
    writer = store.begin(VersionMeta(version, f"model-{version}", "2026-11-23T00:00:00Z", layout), table)
    if with_similar:
        writer.put_similar(similar)
    writer.put_cold_start(ColdStartLists(overall=tuple(table[:2])))
    writer.commit()


@pytest.fixture
def catalog(tmp_path: Path, films: list[Film]) -> SqliteCatalog:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert(films)
    return catalog


@pytest.fixture
def recstore(tmp_path: Path, films: list[Film]) -> Iterator[SqliteRecStore]:
    store = SqliteRecStore(tmp_path / "recstore.sqlite")
    publish(store, "v1", films)
    yield store
    store.close()


@pytest.fixture
def recommendations_url(tmp_path: Path, recstore: SqliteRecStore) -> Iterator[str]:
    app = create_recommendations_app(ApiSettings(data_dir=tmp_path, current_refresh_ms=0))
    with serve_in_thread(app, lifespan="on") as url:
        yield url


def movies_client(tmp_path: Path, catalog: SqliteCatalog, url: str, failures: int = 5) -> TestClient:
    settings = MoviesApiSettings(
        data_dir=tmp_path,
        jwt_secret=SECRET,
        recommendations_api_url=url,
        recommendations_timeout_s=2.0,
        recommendations_circuit_failures=failures,
    )
    return TestClient(create_app(settings, catalog=catalog))


@pytest.fixture
def client(tmp_path: Path, catalog: SqliteCatalog, recommendations_url: str) -> Iterator[TestClient]:
    with movies_client(tmp_path, catalog, recommendations_url) as test_client:
        yield test_client


def titles(response) -> list[str]:
    return [card["title"] for card in response.json()]


def test_the_models_similar_films_come_back_as_cards_in_order(client, films) -> None:
    response = client.get(f"/api/v1/films/{films[0].film_id}/similar")
    assert response.status_code == 200, response.text
    assert response.headers["X-Similar-Source"] == "model"
    assert titles(response) == ["Delta", "Bravo", "Charlie"]  # the film the catalogue lost is left out
    assert response.json()[2] == client.get(f"/api/v1/films/{films[2].film_id}").json()  # the same cards
    limited = client.get(f"/api/v1/films/{films[0].film_id}/similar", params={"limit": 2})
    assert titles(limited) == ["Delta", "Bravo"]
    assert titles(client.get(f"/api/v1/films/{films[2].film_id}/similar")) == ["Alpha"]


def test_a_film_newer_than_the_version_falls_back_to_films_sharing_genres(client, films) -> None:
    response = client.get(f"/api/v1/films/{films[4].film_id}/similar")  # Echo (Drama): the API says 404
    assert response.status_code == 200
    assert response.headers["X-Similar-Source"] == "fallback"
    # Drama films first by IMDb rating, then the others by IMDb rating
    assert titles(response) == ["Charlie", "Alpha", "Bravo", "Delta"]
    metrics = client.get("/metrics").text
    assert 'movies_api_similar_films_total{reason="status_404",source="fallback"} 1.0' in metrics


def test_a_version_without_similar_films_falls_back(tmp_path, catalog, recstore, recommendations_url, films) -> None:
    publish(recstore, "v2", films, with_similar=False)  # a cold-start-only version
    with movies_client(tmp_path, catalog, recommendations_url) as client:
        response = client.get(f"/api/v1/films/{films[2].film_id}/similar", params={"limit": 3})
        assert response.headers["X-Similar-Source"] == "fallback"
        # Charlie (Drama, Comedy): films sharing a genre by IMDb rating (Echo has none), then Delta
        assert titles(response) == ["Alpha", "Bravo", "Echo"]


def test_recommendations_api_down_falls_back(tmp_path, catalog, films) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with movies_client(tmp_path, catalog, url, failures=1) as client:
        response = client.get(f"/api/v1/films/{films[0].film_id}/similar")
        assert response.status_code == 200
        assert response.headers["X-Similar-Source"] == "fallback"
        assert titles(response) == ["Charlie", "Echo", "Bravo", "Delta"]
        again = client.get(f"/api/v1/films/{films[0].film_id}/similar")  # the breaker is open: not asked
        assert again.headers["X-Similar-Source"] == "fallback" and titles(again) == titles(response)
        metrics = client.get("/metrics").text
        assert 'movies_api_similar_films_total{reason="unreachable",source="fallback"} 1.0' in metrics
        assert 'movies_api_similar_films_total{reason="circuit_open",source="fallback"} 1.0' in metrics


def test_unknown_films_are_404_and_bad_requests_422(client, films) -> None:
    unknown = client.get(f"/api/v1/films/{film_id_for('it:nowhere')}/similar")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/films/not-a-uuid/similar").status_code == 422
    for limit in (0, 21):
        assert client.get(f"/api/v1/films/{films[0].film_id}/similar", params={"limit": limit}).status_code == 422


def test_the_header_is_documented(client) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/films/{film_id}/similar"]["get"]
    assert operation["responses"]["200"]["headers"]["X-Similar-Source"]["schema"]["enum"] == ["model", "fallback"]
    assert set(operation["responses"]) >= {"200", "404", "422", "503"}
