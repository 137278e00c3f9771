"""GET /api/v1/films/{film_id}/similar over the fake store: shape, limit, 404, 422, 503."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from recommendations_api.bootstrap import create_app
from recommendations_api.settings import ApiSettings
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import SIMILAR_MAX, VersionMeta
from recsys_common.web import PROBLEM_MEDIA_TYPE
from tests.fakes import FakeRecStore
from tests.unit.recommendations_api.conftest import COLD, FILMS, GENRES


def similar_lists() -> np.ndarray:
    """Film i's similar films: the next 25 films (wrapping), cut to SIMILAR_MAX; film 3 has only two."""
    rows = (np.arange(len(FILMS))[:, None] + 1 + np.arange(SIMILAR_MAX)[None, :]) % len(FILMS)
    rows[3, 2:] = -1
    return rows


def publish(store: FakeRecStore, version: str, similar: np.ndarray | None) -> VersionMeta:
    layout = ListLayout.for_catalogue(len(FILMS), 10, 5, GENRES)
    writer = store.begin(VersionMeta(version, f"model-{version}", "2026-11-23T00:00:00Z", layout), FILMS)
    if similar is not None:
        writer.put_similar(similar)
    writer.put_cold_start(COLD)
    return writer.commit()


@pytest.fixture
def store() -> FakeRecStore:
    return FakeRecStore()


@pytest.fixture
def client(store, tmp_path):
    publish(store, "v1", similar_lists())
    settings = ApiSettings(data_dir=tmp_path, current_refresh_ms=0, store_retry_ms=60_000)
    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


def test_similar_films_in_order_with_the_version(client, store) -> None:
    response = client.get(f"/api/v1/films/{FILMS[0]}/similar")
    assert response.status_code == 200
    meta = store.current()
    assert meta is not None
    assert response.json() == {
        "film_id": FILMS[0],
        "model_version": "model-v1",
        "generated_at": meta.published_at,
        "film_ids": FILMS[1 : SIMILAR_MAX + 1],
    }
    assert client.get(f"/api/v1/films/{FILMS[39]}/similar", params={"limit": 3}).json()["film_ids"] == FILMS[:3]
    assert client.get(f"/api/v1/films/{FILMS[3]}/similar").json()["film_ids"] == FILMS[4:6]


def test_the_film_id_is_read_in_any_uuid_spelling(client) -> None:
    response = client.get(f"/api/v1/films/{FILMS[5].upper().replace('-', '')}/similar", params={"limit": 1})
    assert response.status_code == 200
    assert response.json()["film_id"] == FILMS[5]
    assert response.json()["film_ids"] == [FILMS[6]]


def test_a_film_the_version_does_not_know_is_404(client) -> None:
    response = client.get("/api/v1/films/11111111-2222-5333-8444-555555555555/similar")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "has no similar films for film 11111111-2222-5333-8444-555555555555" in response.json()["detail"]


def test_a_version_without_similar_films_is_404(client, store) -> None:
    publish(store, "v2", None)  # a cold-start-only version
    response = client.get(f"/api/v1/films/{FILMS[0]}/similar")
    assert response.status_code == 404
    assert "version v2 (model model-v2)" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/films/not-a-uuid/similar", {}),
        (f"/api/v1/films/{FILMS[0]}/similar", {"limit": 0}),
        (f"/api/v1/films/{FILMS[0]}/similar", {"limit": SIMILAR_MAX + 1}),
        (f"/api/v1/films/{FILMS[0]}/similar", {"limit": "many"}),
    ],
)
def test_bad_requests_are_422_problem_documents(client, path, params) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


def test_a_store_that_goes_down_is_503(client, store) -> None:
    assert client.get(f"/api/v1/films/{FILMS[0]}/similar").status_code == 200
    store.down = True
    response = client.get(f"/api/v1/films/{FILMS[0]}/similar")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "fake store is down" in response.json()["detail"]
    # the personal route still answers from its snapshot
    assert client.get("/api/v1/users/alice/recommendations").json()["source"] == "fallback"


def test_a_store_never_reached_or_empty_is_503(tmp_path) -> None:
    empty = FakeRecStore()
    with TestClient(create_app(ApiSettings(data_dir=tmp_path), store=empty)) as client:
        response = client.get(f"/api/v1/films/{FILMS[0]}/similar")
        assert response.status_code == 503
        assert "no version is published" in response.json()["detail"]
        empty.down = True
        assert client.get(f"/api/v1/films/{FILMS[0]}/similar").status_code == 503


def test_openapi_documents_the_route(client) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/films/{film_id}/similar"]["get"]
    assert set(operation["responses"]) >= {"200", "404", "422", "503"}
    assert spec["components"]["schemas"]["SimilarFilms"]["examples"]
