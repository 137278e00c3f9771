from __future__ import annotations

import time
import uuid

import jwt
import pytest

from movies_api.auth import issue_token
from recsys_common.ids import film_id_for

FILM = film_id_for("api:1")
URL = f"/api/v1/films/{FILM}/rating"


def test_accepted_rating_is_published_with_the_token_subject(client, publisher, auth) -> None:
    before = int(time.time())
    response = client.post(URL, json={"score": 8}, headers=auth("viewer-7"))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "accepted"
    assert (body["film_id"], body["score"]) == (FILM, 8.0)
    [event] = publisher.events
    assert event.event_id == body["event_id"]
    assert uuid.UUID(event.event_id).version == 4
    assert (event.user_id, event.film_id, event.rating) == ("viewer-7", FILM, 8.0)
    assert before <= event.timestamp <= int(time.time())


def test_every_request_is_a_new_event(client, publisher, auth) -> None:
    for _ in range(2):
        assert client.post(URL, json={"score": 5.5}, headers=auth()).status_code == 202
    assert len({e.event_id for e in publisher.events}) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"score": 0},
        {"score": 11},
        {"score": 10.5},
        {"score": "7"},
        {"score": True},
        {"score": None},
        {},
        {"score": 5, "x": 1},
    ],
)
def test_bad_score_is_422_and_nothing_is_published(client, publisher, auth, body) -> None:
    response = client.post(URL, json=body, headers=auth())
    assert response.status_code == 422
    assert publisher.events == []


def test_not_json_body_is_422(client, publisher, auth) -> None:
    response = client.post(URL, content=b"score=5", headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert publisher.events == []


def test_unknown_film_is_404_and_nothing_is_published(client, publisher, auth) -> None:
    response = client.post(f"/api/v1/films/{film_id_for('api:unknown')}/rating", json={"score": 5}, headers=auth())
    assert response.status_code == 404
    assert publisher.events == []


def test_malformed_film_id_is_422(client, auth) -> None:
    assert client.post("/api/v1/films/123/rating", json={"score": 5}, headers=auth()).status_code == 422


def forged(user: str = "viewer-1") -> str:
    return issue_token(user, "another-secret-that-is-also-32-bytes-long")


def unsigned(user: str = "viewer-1") -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    claims = jwt.utils.base64url_encode(f'{{"sub":"{user}","exp":{int(time.time()) + 60}}}'.encode()).decode()
    return f"{header}.{claims}."


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing bearer token"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing bearer token"),
        ({"Authorization": "Bearer not.a.jwt"}, "invalid token"),
        ({"Authorization": f"Bearer {forged()}"}, "invalid token: Signature verification failed"),
        ({"Authorization": f"Bearer {unsigned()}"}, "invalid token"),
    ],
)
def test_missing_or_forged_token_is_401(client, publisher, headers, reason) -> None:
    response = client.post(URL, json={"score": 5}, headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"].startswith(reason)
    assert publisher.events == []


def test_expired_token_is_401(client, auth) -> None:
    response = client.post(URL, json={"score": 5}, headers=auth(now=time.time() - 7200, ttl_s=60))
    assert response.status_code == 401
    assert response.json() == {"detail": "token has expired"}


def test_auth_is_checked_before_the_body(client) -> None:
    assert client.post(URL, json={"score": 99}).status_code == 401


def test_publisher_down_is_503_with_retry_after_and_not_accepted(client, publisher, settings, auth) -> None:
    publisher.down = True
    response = client.post(URL, json={"score": 5}, headers=auth())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(settings.retry_after_s)
    assert "not accepted" in response.json()["detail"]
    assert "accepted" not in response.json().values()
    assert publisher.events == []


def test_catalogue_down_is_503_and_nothing_is_published(client, catalog, publisher, auth) -> None:
    catalog.down = True
    assert client.post(URL, json={"score": 5}, headers=auth()).status_code == 503
    assert publisher.events == []


def test_event_the_schema_refuses_is_422_not_500(client, publisher, auth) -> None:
    publisher.refuse_with = "user_id must be at most 128 characters, got 300"
    response = client.post(URL, json={"score": 5}, headers=auth())
    assert response.status_code == 422
    assert response.json() == {"detail": "user_id must be at most 128 characters, got 300"}
