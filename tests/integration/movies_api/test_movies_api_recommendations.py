"""Recommendations as film cards: ids over HTTP from a fake Recommendations API, cards from the SQLite catalogue."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from recsys_common.adapters.sqlite_catalog import SqliteCatalog
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_common.imdb_top import imdb_top_of
from recsys_common.tokens import issue_token

pytestmark = pytest.mark.integration

SECRET = "integration-test-secret-32-bytes-long!"
#: Generous, so a loaded machine does not turn an answer into a fallback; the slow tests sleep 5x it.
TIMEOUT_S = 1.0
#: Time the API may take beyond the upstream timeout to answer with the fallback.
FALLBACK_MARGIN_S = 1.0


@pytest.fixture
def client(tmp_path, fake_recommendations, films):
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert(films)
    settings = MoviesApiSettings(
        data_dir=tmp_path,
        jwt_secret=SECRET,
        recommendations_api_url=fake_recommendations.url,
        recommendations_timeout_s=TIMEOUT_S,
    )
    with TestClient(create_app(settings, catalog=catalog)) as test_client:
        yield test_client


def auth(user_id: str, operator: bool = False) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user_id, SECRET, roles=['operator'] if operator else [])}"}


def titles(response) -> list[str]:
    return [f["title"] for f in response.json()["films"]]


def test_personal_list_comes_back_as_cards_in_its_order_without_unknown_films(client, fake_recommendations) -> None:
    fake_recommendations.answers["u1"] = {
        "source": "personal",
        "model_version": "lightfm-1",
        "generated_at": "2026-11-23T04:00:00Z",
        "film_ids": [film_id_for("it:3"), film_id_for("it:unknown"), film_id_for("it:1"), film_id_for("it:5")],
    }
    response = client.get("/api/v1/users/me/recommendations", params={"limit": 4}, headers=auth("u1"))
    assert response.status_code == 200
    body = response.json()
    assert (body["source"], body["model_version"], body["generated_at"]) == (
        "personal",
        "lightfm-1",
        "2026-11-23T04:00:00Z",
    )
    assert titles(response) == ["Charlie", "Alpha", "Echo"]
    assert body["films"][0]["genres"] == ["Drama", "Comedy"]
    assert fake_recommendations.requests == [{"user_id": "u1", "limit": "4", "reasons": "true"}]


def test_genre_and_limit_are_passed_on_in_the_catalogue_spelling(client, fake_recommendations) -> None:
    fake_recommendations.answers["u2"] = {"film_ids": [film_id_for("it:2")]}
    response = client.get(
        "/api/v1/users/me/recommendations", params={"genre": "COMEDY", "limit": 3}, headers=auth("u2")
    )
    assert response.json()["genre"] == "Comedy"
    assert response.json()["source"] == "cold_start"
    assert fake_recommendations.requests == [{"user_id": "u2", "genre": "Comedy", "limit": "3"}]


def test_more_ids_than_the_limit_are_cut(client, fake_recommendations) -> None:
    fake_recommendations.answers["u3"] = {"film_ids": [film_id_for(f"it:{i}") for i in (1, 2, 3, 4)]}
    response = client.get("/api/v1/users/me/recommendations", params={"limit": 2}, headers=auth("u3"))
    assert titles(response) == ["Alpha", "Bravo"]


def test_slow_recommendations_api_falls_back_to_imdb_top_within_the_timeout(client, fake_recommendations) -> None:
    fake_recommendations.delay_s = TIMEOUT_S * 5
    started = time.perf_counter()
    response = client.get("/api/v1/users/me/recommendations", params={"limit": 3}, headers=auth("u4"))
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert response.json()["source"] == "fallback"
    # Weighted rating: Delta (6.0 from 10k votes) is pulled up to the mean more than Bravo (7.0 from 50k)
    # is pulled down; the unrated Echo comes after every rated film.
    assert titles(response) == ["Charlie", "Alpha", "Delta"]
    assert elapsed < TIMEOUT_S + FALLBACK_MARGIN_S
    assert 'reason="timeout",source="fallback"' in client.get("/metrics").text


@pytest.mark.parametrize("status", [500, 503, 404])
def test_failing_recommendations_api_falls_back(client, fake_recommendations, status) -> None:
    fake_recommendations.status = status
    response = client.get("/api/v1/users/me/recommendations", params={"genre": "drama"}, headers=auth("u5"))
    assert response.status_code == 200
    assert response.json()["source"] == "fallback"
    assert titles(response) == ["Charlie", "Alpha", "Echo"]  # the engine's cold-start order: unrated last


def test_answer_of_only_unknown_films_falls_back(client, fake_recommendations) -> None:
    fake_recommendations.answers["u6"] = {"source": "personal", "film_ids": [film_id_for("it:gone")]}
    response = client.get("/api/v1/users/me/recommendations", headers=auth("u6"))
    assert response.json()["source"] == "fallback"


def test_operator_route_asks_for_the_named_user_with_its_id_escaped(client, fake_recommendations) -> None:
    user = "team 42+ü?"
    fake_recommendations.answers[user] = {"source": "personal", "film_ids": [film_id_for("it:4")]}
    response = client.get("/api/v1/users/team%2042%2B%C3%BC%3F/recommendations", headers=auth("ops", operator=True))
    assert response.status_code == 200
    assert response.json()["user_id"] == user
    assert titles(response) == ["Delta"]
    assert fake_recommendations.requests[0]["user_id"] == user


def test_the_request_id_reaches_the_recommendations_api_and_comes_back(client, fake_recommendations):
    response = client.get("/api/v1/users/me/recommendations", headers={**auth("alice"), "X-Request-ID": "trace-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "trace-42"
    assert fake_recommendations.request_ids[-1] == "trace-42"
    made_up = client.get("/api/v1/users/me/recommendations", headers=auth("alice")).headers["X-Request-ID"]
    assert len(made_up) == 32 and fake_recommendations.request_ids[-1] == made_up


def _rate(tmp_path, user: str, film_source: str, score: float, at: int) -> None:
    store = SqliteRatingStore(tmp_path / "ratings.sqlite")
    store.append(pd.DataFrame([(user, film_id_for(film_source), score, at)], columns=list(Columns.RATINGS)))


def test_reasons_name_the_viewers_rated_film_and_score_or_nothing(client, fake_recommendations, tmp_path) -> None:
    _rate(tmp_path, "u7", "it:4", 9.0, 1_700_000_000)
    fake_recommendations.answers["u7"] = {
        "source": "personal",
        "film_ids": [film_id_for("it:1"), film_id_for("it:2")],
        "reasons": {film_id_for("it:1"): film_id_for("it:4"), film_id_for("it:2"): film_id_for("it:5")},
    }
    body = client.get("/api/v1/users/me/recommendations", headers=auth("u7")).json()
    assert [card["reason"] for card in body["films"]] == [
        {"kind": "rated", "film_id": film_id_for("it:4"), "title": "Delta", "score": 9.0},
        None,  # the viewer did not rate Echo: no reason rather than a wrong one
    ]
    fake_recommendations.answers["u8"] = {"source": "cold_start", "film_ids": [film_id_for("it:3")]}
    cold = client.get("/api/v1/users/me/recommendations", params={"genre": "drama"}, headers=auth("u8")).json()
    assert cold["films"][0]["reason"] == {"kind": "top_in_genre", "genre": "Drama"}


def test_the_home_page_falls_back_to_imdb_top_rows_when_the_api_fails(
    client, fake_recommendations, tmp_path, films
) -> None:
    _rate(tmp_path, "u9", "it:3", 10.0, 1_700_000_000)  # Charlie: Drama, Comedy
    fake_recommendations.status = 500
    response = client.get("/api/v1/users/me/home", params={"rows": 1, "limit": 2}, headers=auth("u9"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "fallback"
    assert [(row["kind"], row["genre"], row["title"]) for row in body["rows"]] == [
        ("must_watch", None, "Top rated"),
        ("genre", "Drama", "Drama"),
    ]
    top = [film for film in imdb_top_of(films, len(films)).overall if film != film_id_for("it:3")]  # Charlie is rated
    assert [card["film_id"] for card in body["rows"][0]["films"]] == top[:2]
    assert body["rows"][1]["films"][0]["reason"] == {"kind": "top_in_genre", "genre": "Drama"}
    assert [r["path"] for r in fake_recommendations.requests] == ["home"]
    assert fake_recommendations.requests[0]["genres"] == "Drama"


def test_a_viewer_without_ratings_gets_the_largest_genres(client, fake_recommendations) -> None:
    fake_recommendations.homes["new"] = {
        "must_watch": [film_id_for("it:1")],
        "genres": {"Drama": [film_id_for("it:5")]},
    }
    body = client.get("/api/v1/users/me/home", params={"rows": 2}, headers=auth("new")).json()
    assert fake_recommendations.requests[-1]["genres"] == "Drama,Comedy"  # 3 and 2 films
    assert [row["genre"] for row in body["rows"]] == [None, "Drama"]  # no Comedy list in the answer
    assert body["rows"][0]["films"][0]["reason"] == {"kind": "top_rated"}
