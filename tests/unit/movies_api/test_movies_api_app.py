"""Composition root, settings, health and metrics."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from movies_api.bootstrap import ConfigurationError, create_app
from movies_api.settings import MoviesApiSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.ids import film_id_for
from recsys_common.tokens import DEV_JWT_SECRET, issue_token


def test_short_jwt_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="jwt_secret"):
        MoviesApiSettings(jwt_secret="short")


def test_production_adapters_need_a_jwt_secret(tmp_path, catalog, publisher) -> None:
    settings = MoviesApiSettings(data_dir=tmp_path, elasticsearch_url="http://127.0.0.1:9200")
    with pytest.raises(ConfigurationError, match="RECSYS_JWT_SECRET"):
        create_app(settings, catalog=catalog, publisher=publisher)


def test_embedded_app_without_secret_logs_and_accepts_the_dev_secret(tmp_path, catalog, publisher, caplog) -> None:
    settings = MoviesApiSettings(data_dir=tmp_path)
    with caplog.at_level(logging.WARNING, logger="movies_api.bootstrap"):
        app = create_app(settings, catalog=catalog, publisher=publisher)
    assert "RECSYS_JWT_SECRET is not set" in caplog.text
    token = issue_token("dev-user", DEV_JWT_SECRET)
    with TestClient(app) as client:
        response = client.post(
            f"/api/v1/films/{film_id_for('api:1')}/rating",
            json={"score": 9},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 202
    assert publisher.events[0].user_id == "dev-user"


def test_create_app_connects_to_nothing(tmp_path) -> None:
    settings = MoviesApiSettings(data_dir=tmp_path / "never-created", jwt_secret="x" * 32)
    app = create_app(settings)
    assert isinstance(app.state.catalog, SqliteCatalog)
    assert not (tmp_path / "never-created").exists()


def test_shutdown_closes_the_publisher(settings, catalog, publisher) -> None:
    with TestClient(create_app(settings, catalog=catalog, publisher=publisher)):
        assert not publisher.closed
    assert publisher.closed


def test_live(client) -> None:
    assert client.get("/health/live").json() == {"status": "ok", "checks": {}}


def test_ready_when_catalogue_and_publisher_answer(client) -> None:
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"catalog": "ok", "publisher": "ok"}}


def test_not_ready_says_which_dependency_failed(client, catalog, publisher) -> None:
    publisher.down = True
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"catalog": "ok", "publisher": "fake broker is down"}}
    catalog.down = True
    assert client.get("/health/ready").json()["checks"]["catalog"] == "fake catalogue is down"


def test_metrics_count_requests_by_route_template_and_ratings_by_outcome(client, publisher, auth) -> None:
    client.get(f"/api/v1/films/{film_id_for('api:1')}")
    client.get(f"/api/v1/films/{film_id_for('api:2')}")
    client.post(f"/api/v1/films/{film_id_for('api:1')}/rating", json={"score": 3}, headers=auth())
    publisher.down = True
    client.post(f"/api/v1/films/{film_id_for('api:1')}/rating", json={"score": 3}, headers=auth())
    text = client.get("/metrics").text
    assert 'movies_api_requests_total{method="GET",route="/api/v1/films/{film_id}",status="200"} 2.0' in text
    assert 'movies_api_ratings_total{outcome="accepted"} 1.0' in text
    assert 'movies_api_ratings_total{outcome="publisher_unavailable"} 1.0' in text
    assert "movies_api_request_seconds_bucket" in text


def test_openapi_documents_every_route_with_examples(client) -> None:
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) >= {
        "/api/v1/films",
        "/api/v1/films/{film_id}",
        "/api/v1/films/{film_id}/rating",
        "/api/v1/genres",
        "/api/v1/users/me/recommendations",
        "/api/v1/users/{user_id}/recommendations",
        "/health/live",
        "/health/ready",
    }
    assert schema["components"]["schemas"]["RatingIn"]["examples"] == [{"score": 8}]
    assert "examples" in schema["components"]["schemas"]["FilmCard"]
    assert "401" in schema["paths"]["/api/v1/films/{film_id}/rating"]["post"]["responses"]


def test_openapi_is_truthful_about_the_rating_body_errors_and_user_ids(client) -> None:
    spec = client.get("/openapi.json").json()
    rating = spec["paths"]["/api/v1/films/{film_id}/rating"]["post"]
    assert rating["operationId"] == "rate_film"
    assert rating["requestBody"] == {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RatingIn"}}},
    }
    assert set(rating["responses"]) == {"202", "401", "404", "413", "415", "422", "431", "503"}
    assert all(
        set(rating["responses"][code]["content"]) == {"application/problem+json"}
        for code in rating["responses"]
        if code != "202"
    )
    operator = spec["paths"]["/api/v1/users/{user_id}/recommendations"]["get"]
    user_id = next(p for p in operator["parameters"] if p["name"] == "user_id")["schema"]
    assert (user_id["minLength"], user_id["maxLength"]) == (1, 128)
    assert "/" in user_id["pattern"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert {tag["name"] for tag in spec["tags"]} >= {"films", "ratings", "recommendations"}
    operation_ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(operation_ids) == len(set(operation_ids))
