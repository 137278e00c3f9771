"""The online loop through the APIs on the embedded default: a viewer rates a film through the Movies API,
reads their recommendations again within seconds and sees a different list (the online updater's
overlay) without the rated film; a new viewer gets a personal list after their first rating."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app as create_movies_app
from movies_api.settings import MoviesApiSettings
from recommendations_api.bootstrap import create_app as create_recommendations_app
from recommendations_api.settings import ApiSettings
from recsys_common.tokens import issue_token
from tests.engines import trained_embedded_default
from tests.servers import serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECRET = "e2e-secret-of-at-least-thirty-two-bytes!"
#: The updater polls every 0.1 s and the API re-resolves the version every 0.1 s; generous for CI.
CHANGE_TIMEOUT_S = 10.0


@pytest.fixture
def movies(tmp_path: Path) -> Iterator[TestClient]:
    with trained_embedded_default(tmp_path, "likes"):
        api = create_recommendations_app(ApiSettings(data_dir=tmp_path, current_refresh_ms=100))
        with serve_in_thread(api, lifespan="on") as url:
            movie_settings = MoviesApiSettings(data_dir=tmp_path, jwt_secret=SECRET, recommendations_api_url=url)
            with TestClient(create_movies_app(movie_settings)) as client:
                yield client


def recommendations(client: TestClient, user: str) -> dict[str, object]:
    response = client.get("/api/v1/users/me/recommendations", params={"limit": 10}, headers=headers(user))
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def headers(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user, SECRET)}"}


def ids(body: dict[str, object]) -> list[str]:
    return [card["film_id"] for card in body["films"]]  # type: ignore[attr-defined]


def wait_for_overlay(client: TestClient, user: str) -> dict[str, object]:
    deadline = time.monotonic() + CHANGE_TIMEOUT_S
    while time.monotonic() < deadline:
        body = recommendations(client, user)
        if body["source"] == "overlay":
            return body
        time.sleep(0.05)
    raise AssertionError(f"no overlay for {user} within {CHANGE_TIMEOUT_S:g} s: {body['source']}")


def rate(client: TestClient, user: str, film: str) -> None:
    response = client.post(f"/api/v1/films/{film}/rating", json={"score": 9}, headers=headers(user))
    assert response.status_code == 202, response.text


def test_a_rating_changes_the_viewers_list_within_seconds(movies: TestClient) -> None:
    before = recommendations(movies, "user-3")
    assert before["source"] == "personal"
    liked = ids(before)[0]
    started = time.monotonic()
    rate(movies, "user-3", liked)
    after = wait_for_overlay(movies, "user-3")
    assert time.monotonic() - started < CHANGE_TIMEOUT_S
    assert liked not in ids(after)
    assert ids(after) != ids(before)
    assert len(ids(after)) == 10


def test_a_new_viewers_first_rating_gives_them_a_personal_list_without_it(movies: TestClient) -> None:
    before = recommendations(movies, "newcomer")
    assert before["source"] == "cold_start"
    first = ids(before)[0]
    rate(movies, "newcomer", first)
    # before the updater answers, the cold-start answer already leaves the rated film out
    assert first not in ids(recommendations(movies, "newcomer"))
    after = wait_for_overlay(movies, "newcomer")
    assert first not in ids(after)
