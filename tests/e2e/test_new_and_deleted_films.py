"""One home for films, end to end on the embedded default, through the commands a user runs:

seed (``recsys data``) -> add a film (``python -m movies_db add-film``) -> a viewer rates it through the
Movies API, and a rating arrives for a film id the catalogue does not know -> ``recsys run`` publishes,
reports the unknown-film rating as left out, and the new film reaches the lists of the viewers who
like its genre -> ``delete-film`` -> the next version has it in no list.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from movies_db.cli import app as movies_db_cli
from recommender_engine.cli import app as recsys_cli
from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.adapters.sqlite_recstore import SqliteRecStore
from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_common.tokens import issue_token

pytestmark = pytest.mark.e2e

runner = CliRunner()
SECRET = "e2e-secret-of-at-least-thirty-two-bytes!"
GENRES = ("Comedy", "Drama", "Horror", "Western")
FILMS_PER_GENRE = 15
USERS_PER_GENRE = 15
NEW_GENRE = "Horror"
FAN = "csv:horror-fan-0"  # the viewer who rates the new film
#: Share of the other horror fans who must find the new film in their first ``TOP`` must-watch films
#: (it ranks 7th of ~50 unseen films for the median fan, 22nd for the median other viewer).
MIN_FANS_WITH_IT = 0.6
TOP = 10


def taste_clusters(directory: Path) -> Path:
    """A MovieLens-CSV set where each user loves one genre (5 stars) and finds the others poor."""
    directory.mkdir()
    movies = ["movieId,title,genres"]
    for g, genre in enumerate(GENRES):
        movies += [f"{g * 100 + i},{genre} Film {i} ({1980 + i}),{genre}" for i in range(FILMS_PER_GENRE)]
    ratings = ["userId,movieId,rating,timestamp"]
    stamp = 1_700_000_000
    for g, genre in enumerate(GENRES):
        for u in range(USERS_PER_GENRE):
            user = f"{genre.lower()}-fan-{u}"
            loved = [g * 100 + (u + i) % FILMS_PER_GENRE for i in range(8)]
            other = (g + 1 + u % (len(GENRES) - 1)) % len(GENRES)
            poor = [other * 100 + (u + i) % FILMS_PER_GENRE for i in range(2)]
            ratings += [f"{user},{m},5,{stamp + i}" for i, m in enumerate(loved)]
            ratings += [f"{user},{m},1,{stamp + 10 + i}" for i, m in enumerate(poor)]
    (directory / "movies.csv").write_text("\n".join(movies) + "\n")
    (directory / "ratings.csv").write_text("\n".join(ratings) + "\n")
    return directory


@pytest.fixture
def var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("REDIS_URL", "CLICKHOUSE_URL", "KAFKA_BOOTSTRAP", "ELASTICSEARCH_URL", "POSTGRES_DSN"):
        monkeypatch.delenv(f"RECSYS_{name}", raising=False)
    monkeypatch.setenv("RECSYS_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RECSYS_MODEL__EPOCHS", "20")
    monkeypatch.setenv("RECSYS_MODEL__NO_COMPONENTS", "16")
    monkeypatch.setenv("RECSYS_MODEL__NUM_THREADS", "1")
    return tmp_path / "var"


def run(cli, *args: str) -> str:
    """What the command printed to stdout (its logs go to stderr)."""
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def serving_lists(var: Path) -> tuple[str, dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]]]:
    store = SqliteRecStore(var / "recstore.sqlite")
    try:
        meta = store.current()
        assert meta is not None
        films = store.films(meta.version)
        users = {}
        for genre in GENRES:
            for u in range(USERS_PER_GENRE):
                user = f"csv:{genre.lower()}-fan-{u}"
                lists = store.user_lists(user, meta, films)
                assert lists is not None
                users[user] = (lists.must_watch, lists.by_genre)
        return meta.version, users
    finally:
        store.close()


def test_new_film_is_recommended_unknown_film_ratings_are_left_out_and_deleted_films_leave(var: Path, tmp_path: Path):
    run(recsys_cli, "data", "--movielens-dir", str(taste_clusters(tmp_path / "ml")))
    new_film = run(movies_db_cli, "add-film", "--title", "The New One", "--year", "2026", "--genre", NEW_GENRE)
    new_film = new_film.strip().splitlines()[-1]

    settings = MoviesApiSettings(data_dir=var, jwt_secret=SECRET)
    with TestClient(create_app(settings)) as movies:
        auth = {"Authorization": f"Bearer {issue_token(FAN, SECRET)}"}
        rated = movies.post(f"/api/v1/films/{new_film}/rating", json={"score": 10}, headers=auth)
        assert rated.status_code == 202, rated.text
        unknown = film_id_for("not-in-the-catalogue:1")
        assert movies.post(f"/api/v1/films/{unknown}/rating", json={"score": 8}, headers=auth).status_code == 404
    # a rating that reached the store for a film the catalogue does not hold (e.g. through Kafka before the ETL)
    stray = pd.DataFrame([["csv:drama-fan-0", unknown, 8.0, 1_800_000_000]], columns=list(Columns.RATINGS))
    SqliteRatingStore(var / "ratings.sqlite").append(stray)

    output = run(recsys_cli, "run")
    assert "published: version" in output
    assert re.search(r"left out: unknown film +1 ", output), output
    status = json.loads(run(recsys_cli, "status", "--json"))
    assert status["healthy"] and status["serving"]["metrics"]["ratings_left_out"] == 1

    version, users = serving_lists(var)
    fans = [u for u in users if u.startswith("csv:horror-fan-") and u != FAN]
    others = [u for u in users if not u.startswith("csv:horror-fan-")]
    with_it = [u for u in fans if new_film in users[u][0][:TOP]]
    assert len(with_it) >= MIN_FANS_WITH_IT * len(fans), f"{len(with_it)} of {len(fans)} horror fans get the new film"
    assert all(new_film in users[u][1][NEW_GENRE] for u in fans)
    assert sum(new_film in users[u][0][:TOP] for u in others) < len(with_it), "its genre's fans get it more"
    assert new_film not in users[FAN][0], "a viewer is never recommended a film they rated"

    run(movies_db_cli, "delete-film", new_film)
    assert "published: version" in run(recsys_cli, "run")  # a deletion is a change of the catalogue
    after, users = serving_lists(var)
    assert after != version
    for must_watch, by_genre in users.values():
        assert new_film not in must_watch
        assert all(new_film not in ids for ids in by_genre.values())
