"""Reasons and home pages end to end on the embedded default: the engine publishes a version into a
SQLite RecStore, the real Recommendations API serves it over HTTP, the Movies API turns it into
cards with reasons ("because you rated Heat 9/10") and home-page rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

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
from recsys_common.ids import film_id_for
from recsys_common.imdb_top import imdb_top_of
from recsys_common.tokens import issue_token
from recsys_datasets.frames import films_from_frame
from tests.datasets import BASE_TIMESTAMP, synthetic_films, synthetic_ratings
from tests.servers import serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SECRET = "e2e-secret-of-at-least-thirty-two-bytes!"
VIEWER = "viewer-heat"
HEAT = film_id_for("reasons:heat")
ROW_LIMIT = 5


@dataclass
class Counting:
    """An ASGI app that records the paths of the HTTP requests it passes on."""

    app: ASGIApp
    paths: list[str] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@dataclass
class World:
    movies: TestClient
    upstream: Counting
    films: pd.DataFrame
    disliked: list[str]
    engine: Engine


def _films() -> pd.DataFrame:
    films = synthetic_films(60, source="reasons")
    heat = films.iloc[[0]].copy()
    heat[Columns.Item] = HEAT
    heat[Columns.SourceId] = "reasons:heat"
    heat[Columns.Title] = "Heat"
    heat[Columns.Genres] = [("Crime", "Drama")]
    return pd.concat([films, heat], ignore_index=True)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    films = _films()
    ratings = SqliteRatingStore(tmp_path / "ratings.sqlite")
    ratings.append(synthetic_ratings(films, n_users=30, per_user=12))
    fans = [(f"fan-{u}", HEAT, 8.0 + u % 3, BASE_TIMESTAMP + u) for u in range(10)]
    ratings.append(pd.DataFrame(fans, columns=list(Columns.RATINGS)))
    disliked = films[Columns.Item].iloc[1:3].tolist()
    viewer = [(VIEWER, HEAT, 9.0, BASE_TIMESTAMP + 100)]
    viewer += [(VIEWER, film, 3.0, BASE_TIMESTAMP + 200 + i) for i, film in enumerate(disliked)]
    ratings.append(pd.DataFrame(viewer, columns=list(Columns.RATINGS)))
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    catalog.upsert(films_from_frame(films))
    catalog.close()
    engine = Engine(
        ratings=ratings,
        store=SqliteRecStore(tmp_path / "recstore.sqlite"),
        films=lambda: films,
        lists=ListConfig(must_watch_len=20, genre_len=8, cold_start_len=20),
        model=ModelConfig(epochs=3, no_components=8),
        artefact_dir=tmp_path / "models",
        journal=CycleJournal(tmp_path / "cycles.jsonl"),
    )
    assert engine.run_cycle().status == "published"
    upstream = Counting(create_recommendations_app(ApiSettings(data_dir=tmp_path, current_refresh_ms=0)))
    with serve_in_thread(upstream, lifespan="on") as url:
        settings = MoviesApiSettings(data_dir=tmp_path, recommendations_api_url=url, jwt_secret=SECRET)
        with TestClient(create_movies_app(settings)) as movies:
            yield World(movies, upstream, films, disliked, engine)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(VIEWER, SECRET)}"}


HEAT_REASON = {"kind": "rated", "film_id": HEAT, "title": "Heat", "score": 9.0}


def test_a_viewer_who_rated_heat_9_is_told_so_on_every_recommendation(world: World) -> None:
    response = world.movies.get("/api/v1/users/me/recommendations", params={"limit": 6}, headers=_auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "personal"
    assert len(body["films"]) == 6
    # Heat is the only film the viewer liked: it is the reason of every recommendation
    assert [card["reason"] for card in body["films"]] == [HEAT_REASON] * 6
    assert not {card["film_id"] for card in body["films"]} & {HEAT, *world.disliked}
    genre = world.movies.get("/api/v1/users/me/recommendations", params={"genre": "Comedy"}, headers=_auth())
    assert all(card["reason"] is None for card in genre.json()["films"])  # a personal genre list has none


def test_the_home_page_takes_one_request_and_shows_the_favourite_genres(world: World) -> None:
    before = len(world.upstream.paths)
    response = world.movies.get("/api/v1/users/me/home", params={"rows": 2, "limit": ROW_LIMIT}, headers=_auth())
    assert response.status_code == 200, response.text
    assert world.upstream.paths[before:] == [f"/api/v1/users/{VIEWER}/home"]  # one request for the whole page
    body = response.json()
    assert body["source"] == "personal" and body["model_version"]
    kinds = [(row["kind"], row["genre"], row["title"]) for row in body["rows"]]
    # Heat (rated 9) is Crime and Drama; the films rated 3 do not count while a liked one exists
    assert kinds == [("must_watch", None, "Must watch"), ("genre", "Crime", "Crime"), ("genre", "Drama", "Drama")]
    must_watch = body["rows"][0]["films"]
    assert len(must_watch) == ROW_LIMIT
    assert all(card["reason"] == HEAT_REASON for card in must_watch)
    drama = body["rows"][2]["films"]
    genres_of = dict(zip(world.films[Columns.Item], world.films[Columns.Genres], strict=True))
    assert drama and all("Drama" in genres_of[card["film_id"]] for card in drama)
    shown = {card["film_id"] for row in body["rows"] for card in row["films"]}
    assert not shown & {HEAT, *world.disliked}


def test_the_anonymous_home_page_is_imdb_top_without_asking_the_recommendations_api(world: World) -> None:
    before = len(world.upstream.paths)
    response = world.movies.get("/api/v1/home", params={"rows": 2, "limit": 4})
    assert response.status_code == 200, response.text
    assert world.upstream.paths[before:] == []
    body = response.json()
    assert body["source"] == "cold_start"
    largest = world.films.explode(Columns.Genres)[Columns.Genres].value_counts()
    expected = sorted(largest.index, key=lambda g: (-largest[g], g))[:2]
    assert [row["genre"] for row in body["rows"]] == [None, *expected]
    top = imdb_top_of(films_from_frame(world.films), 4)  # the platform's IMDb-top ranking
    overall = body["rows"][0]["films"]
    assert [card["film_id"] for card in overall] == list(top.overall)
    assert all(card["reason"] == {"kind": "top_rated"} for card in overall)
    for row in body["rows"][1:]:
        assert [card["film_id"] for card in row["films"]] == list(top.by_genre[row["genre"]])
        assert all(card["reason"] == {"kind": "top_in_genre", "genre": row["genre"]} for card in row["films"])


def test_my_ratings_come_newest_first_and_page(world: World) -> None:
    response = world.movies.get("/api/v1/users/me/ratings", params={"page_size": 2}, headers=_auth())
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["total"], body["page_number"], body["page_size"]) == (3, 1, 2)
    assert [(r["film"]["film_id"], r["score"]) for r in body["ratings"]] == [
        (world.disliked[1], 3.0),
        (world.disliked[0], 3.0),
    ]
    assert body["ratings"][0]["rated_at"] == "2023-11-14T22:16:41Z"  # BASE_TIMESTAMP + 201
    last = world.movies.get("/api/v1/users/me/ratings", params={"page_size": 2, "page_number": 2}, headers=_auth())
    assert [(r["film"]["title"], r["score"]) for r in last.json()["ratings"]] == [("Heat", 9.0)]
    assert world.movies.get("/api/v1/users/me/ratings").status_code == 401
    assert world.movies.get("/api/v1/users/me/ratings", params={"page_size": 0}, headers=_auth()).status_code == 422


def test_removing_a_rating_takes_it_out_of_my_ratings_and_of_the_reasons(world: World, tmp_path: Path) -> None:
    removed = world.movies.delete(f"/api/v1/films/{HEAT}/rating", headers=_auth())
    assert removed.status_code == 202, removed.text
    assert removed.json()["film_id"] == HEAT and removed.json()["status"] == "removed"
    mine = world.movies.get("/api/v1/users/me/ratings", headers=_auth()).json()
    assert mine["total"] == 2 and HEAT not in {r["film"]["film_id"] for r in mine["ratings"]}
    # the published lists still name Heat, but the viewer no longer rates it: no "because you rated Heat"
    cards = world.movies.get("/api/v1/users/me/recommendations", headers=_auth()).json()["films"]
    assert cards and all(card["reason"] is None for card in cards)
    # the next cycle trains without it: the reasons are the films the viewer still rates (both 3/10)
    assert world.engine.run_cycle().status == "published"
    after = world.movies.get("/api/v1/users/me/recommendations", headers=_auth()).json()["films"]
    assert {(c["reason"]["film_id"], c["reason"]["score"]) for c in after} <= {(f, 3.0) for f in world.disliked}
    stored = SqliteRatingStore(tmp_path / "ratings.sqlite")
    assert HEAT not in set(stored.read_all().query(f"{Columns.User} == @VIEWER")[Columns.Item])
    assert world.movies.delete(f"/api/v1/films/{HEAT}/rating").status_code == 401
    unknown = world.movies.delete(f"/api/v1/films/{film_id_for('reasons:none')}/rating", headers=_auth())
    assert unknown.status_code == 404
