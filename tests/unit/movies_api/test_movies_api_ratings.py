from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import jwt
import pytest

from recsys_common.domain import RATING_REMOVED
from recsys_common.ids import film_id_for
from recsys_common.tokens import issue_token
from tests.unit.movies_api.conftest import SECRET

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
    assert response.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "token has expired",
    }


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
    assert response.json()["errors"] == [
        {"loc": ["body"], "msg": "user_id must be at most 128 characters, got 300", "type": "value_error"}
    ]


@pytest.mark.parametrize(
    "raw", [b'{"score": NaN}', b'{"score": Infinity}', b'{"score": -Infinity}', b'{"score": 1e400}']
)
def test_scores_that_are_not_finite_numbers_are_422_not_500(client, publisher, auth, raw) -> None:
    response = client.post(URL, content=raw, headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [
        {"loc": ["body", "score"], "msg": "Input should be a finite number", "type": "finite_number"}
    ]
    assert publisher.events == []


def test_a_body_that_is_not_utf8_json_is_422(client, publisher, auth) -> None:
    response = client.post(URL, content=b"\xff\xfe{", headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body"]
    assert publisher.events == []


def test_a_body_of_another_media_type_is_415(client, publisher, auth) -> None:
    response = client.post(
        URL, content=b"score=5", headers={**auth(), "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert response.json()["detail"] == "the body must be application/json"
    assert client.post(URL, content=b'{"score": 5}', headers=auth()).status_code == 202  # no media type: JSON
    assert len(publisher.events) == 1


def token_with(claims_json: bytes) -> dict[str, str]:
    """A correctly signed token whose claims are exactly these JSON bytes (escapes kept as written)."""
    header = jwt.utils.base64url_encode(b'{"alg":"HS256","typ":"JWT"}')
    claims = jwt.utils.base64url_encode(claims_json)
    signature = jwt.utils.base64url_encode(hmac.new(SECRET.encode(), header + b"." + claims, hashlib.sha256).digest())
    return {"Authorization": f"Bearer {(header + b'.' + claims + b'.' + signature).decode()}"}


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        (rb'"\ud800"', "invalid token subject: user id must not contain surrogates"),
        (rb'"a\udfffb"', "invalid token subject: user id must not contain surrogates"),
        (b'"team/alice"', "invalid token subject: user id must not contain '/'"),
        (rb'"a\u0000b"', "invalid token subject: user id must not contain control characters"),
        (rb'"\u2028"', "invalid token subject: user id must not contain control characters"),
        (b'""', "invalid token subject: user id must not be empty"),
        (b"42", "invalid token: Subject must be a string"),
        (b'["alice"]', "invalid token: Subject must be a string"),
    ],
)
def test_a_subject_outside_the_user_id_alphabet_is_401_with_a_message(client, publisher, subject, reason) -> None:
    headers = token_with(b'{"sub": %s, "exp": %d}' % (subject, int(time.time()) + 60))
    for response in (
        client.post(URL, json={"score": 5}, headers=headers),
        client.get("/api/v1/users/me/recommendations", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["detail"] == reason
    assert publisher.events == []


@pytest.mark.parametrize("claim", [b'"exp": 1e400', b'"exp": "soon"', b'"exp": 99999999999999999999999999'])
def test_malformed_expiry_claims_are_401(client, claim) -> None:
    response = client.get("/api/v1/users/me/recommendations", headers=token_with(b'{"sub": "alice", %s}' % claim))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("invalid token")


def test_removing_a_rating_publishes_a_removal_on_the_rating_path(client, publisher, auth) -> None:
    response = client.delete(URL, headers=auth("viewer-7"))
    assert response.status_code == 202
    body = response.json()
    assert (body["film_id"], body["status"]) == (FILM, "removed")
    [event] = publisher.events
    assert (event.event_id, event.user_id, event.film_id, event.rating) == (
        body["event_id"],
        "viewer-7",
        FILM,
        RATING_REMOVED,
    )
    assert client.delete(URL).status_code == 401
    assert client.delete(f"/api/v1/films/{film_id_for('api:unknown')}/rating", headers=auth()).status_code == 404
    publisher.down = True
    down = client.delete(URL, headers=auth())
    assert down.status_code == 503 and "not accepted" in down.json()["detail"]
    assert len(publisher.events) == 1
