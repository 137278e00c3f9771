"""Recommendations when the Recommendations API cannot be reached: the catalogue's IMDb-top (source fallback)."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_common.ports.ratings import RatingSourceError
from tests.fakes import FakeRatingStore


def test_unreachable_recommendations_api_falls_back_to_imdb_top(client, auth) -> None:
    response = client.get("/api/v1/users/me/recommendations", params={"limit": 5}, headers=auth("viewer-3"))
    assert response.status_code == 200
    body = response.json()
    assert (body["user_id"], body["genre"], body["source"], body["model_version"]) == (
        "viewer-3",
        None,
        "fallback",
        None,
    )
    # the engine's cold-start ranking: films without IMDb data come last, they are not dropped
    assert [f["film_id"] for f in body["films"]] == [film_id_for(f"api:{n}") for n in (1, 2, 3)]
    assert body["generated_at"].endswith("Z")


def test_genre_is_matched_in_any_case_and_answered_in_the_catalogue_spelling(client, auth) -> None:
    body = client.get("/api/v1/users/me/recommendations", params={"genre": "drama"}, headers=auth()).json()
    assert body["genre"] == "Drama"
    assert [f["title"] for f in body["films"]] == ["Casablanca"]


def test_unknown_genre_is_404_listing_the_genres(client, auth) -> None:
    response = client.get("/api/v1/users/me/recommendations", params={"genre": "Western"}, headers=auth())
    assert response.status_code == 404
    assert response.json()["detail"] == "unknown genre 'Western'; genres: Action, Comedy, Drama, Romance, Sci-Fi"


def test_limit_outside_1_to_100_is_422(client, auth) -> None:
    for limit in (0, 101):
        response = client.get("/api/v1/users/me/recommendations", params={"limit": limit}, headers=auth())
        assert response.status_code == 422


def test_my_recommendations_need_a_token(client) -> None:
    assert client.get("/api/v1/users/me/recommendations").status_code == 401


def test_operator_route_needs_the_operator_role(client, auth) -> None:
    assert client.get("/api/v1/users/someone/recommendations").status_code == 401
    assert client.get("/api/v1/users/someone/recommendations", headers=auth()).status_code == 403
    response = client.get("/api/v1/users/someone/recommendations", headers=auth("ops", operator=True))
    assert response.status_code == 200
    assert response.json()["user_id"] == "someone"


def test_operator_route_refuses_a_bad_user_id(client, auth) -> None:
    response = client.get("/api/v1/users/" + "u" * 129 + "/recommendations", headers=auth("ops", operator=True))
    assert response.status_code == 422


def test_fallback_needs_the_catalogue(client, catalog, auth) -> None:
    catalog.down = True
    assert client.get("/api/v1/users/me/recommendations", headers=auth()).status_code == 503


def test_fallbacks_are_counted_with_their_reason(client, auth) -> None:
    client.get("/api/v1/users/me/recommendations", headers=auth())
    text = client.get("/metrics").text
    assert 'movies_api_recommendations_total{reason="unreachable",source="fallback"} 1.0' in text


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/api/v1/users/a%2Fb/recommendations", "user id must not contain '/'"),
        ("/api/v1/users/%00/recommendations", "user id must not contain control characters"),
        ("/api/v1/users//recommendations", "user id must not be empty"),
    ],
)
def test_operator_route_says_why_a_user_id_is_refused(client, auth, path, reason) -> None:
    assert client.get(path).status_code == 401  # the operator is authenticated first
    response = client.get(path, headers=auth("ops", operator=True))
    assert response.status_code == 422
    assert response.json()["errors"] == [{"loc": ["path", "user_id"], "msg": reason, "type": "value_error"}]


def test_films_the_viewer_rated_are_left_out_of_the_fallback(settings, catalog, publisher, auth) -> None:
    ratings = FakeRatingStore()
    rated = film_id_for("api:1")
    ratings.append(pd.DataFrame([["viewer-9", rated, 9.0, 1]], columns=list(Columns.RATINGS)))
    with TestClient(create_app(settings, catalog=catalog, publisher=publisher, rating_reader=ratings)) as client:
        body = client.get("/api/v1/users/me/recommendations", params={"limit": 2}, headers=auth("viewer-9")).json()
    assert body["source"] == "fallback"
    assert [f["film_id"] for f in body["films"]] == [film_id_for("api:2"), film_id_for("api:3")]


class UnreadableRatings(FakeRatingStore):
    def read_user(self, user_id: str) -> pd.DataFrame:
        raise RatingSourceError("rating store down")


def test_unreadable_ratings_are_503_for_my_ratings_but_the_home_page_answers(
    settings, catalog, publisher, auth
) -> None:
    app = create_app(settings, catalog=catalog, publisher=publisher, rating_reader=UnreadableRatings())
    with TestClient(app) as client:
        mine = client.get("/api/v1/users/me/ratings", headers=auth())
        assert mine.status_code == 503 and mine.headers["Retry-After"] == str(settings.retry_after_s)
        home = client.get("/api/v1/users/me/home", params={"rows": 1, "limit": 2}, headers=auth())
        assert home.status_code == 200 and home.json()["source"] == "fallback"  # the test's API is unreachable
        assert [row["kind"] for row in home.json()["rows"]] == ["must_watch", "genre"]
        anonymous = client.get("/api/v1/home", params={"rows": 0}).json()
        assert [row["title"] for row in anonymous["rows"]] == ["Top rated"]
