"""Ratings sets in the MovieLens CSV layout: mapping and strict validation with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_datasets.errors import DataFormatError
from recsys_datasets.movielens_csv import load_movielens_csv, split_year

MOVIES = """movieId,title,genres
1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy
2,"American President, The (1995)",Comedy|Drama|Romance
3,Babylon 5 (1994-1998),Sci-Fi
4,Untitled Project,(no genres listed)
"""
RATINGS = """userId,movieId,rating,timestamp
1,1,4.0,964982703
1,2,0.5,964981247
2,1,5,964982224
2,3,3.5,964983815
"""


def _write(directory: Path, movies: str = MOVIES, ratings: str = RATINGS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "movies.csv").write_text(movies, encoding="utf-8")
    (directory / "ratings.csv").write_text(ratings, encoding="utf-8")
    return directory


def test_maps_films_and_ratings(tmp_path: Path) -> None:
    seed = load_movielens_csv(_write(tmp_path))
    films = seed.films.set_index(Columns.SourceId)

    assert films.loc["csv:1", Columns.Item] == film_id_for("csv:1")
    assert films.loc["csv:2", Columns.Title] == "The American President"
    assert films.loc["csv:2", Columns.Year] == 1995
    assert films.loc["csv:3", Columns.Year] == 1994
    assert films.loc["csv:4", Columns.Genres] == ()
    assert films.loc["csv:1", Columns.Genres] == ("Adventure", "Animation", "Children", "Comedy", "Fantasy")

    ratings = seed.ratings
    assert ratings[Columns.User].tolist() == ["csv:1", "csv:1", "csv:2", "csv:2"]
    assert ratings[Columns.Rating].tolist() == [8.0, 1.0, 10.0, 7.0]
    assert ratings[Columns.Item].iloc[3] == film_id_for("csv:3")
    assert ratings[Columns.Timestamp].iloc[0] == 964982703
    assert seed.report == {
        "films": 4,
        "ratings": 4,
        "users": 2,
        "films_without_ratings": 1,
        "duplicate_ratings_dropped": 0,
    }


def test_a_pair_rated_twice_keeps_the_latest(tmp_path: Path) -> None:
    ratings = RATINGS + "1,1,1.0,964999999\n1,1,2.0,900000000\n"

    seed = load_movielens_csv(_write(tmp_path, ratings=ratings))

    pair = seed.ratings[(seed.ratings[Columns.User] == "csv:1") & (seed.ratings[Columns.Item] == film_id_for("csv:1"))]
    assert pair[Columns.Rating].tolist() == [2.0]
    assert seed.report["duplicate_ratings_dropped"] == 2


@pytest.mark.parametrize(
    ("ratings", "message"),
    [
        ("userId,movieId,stars,timestamp\n1,1,4,1\n", r"ratings\.csv, line 1: missing column\(s\) rating"),
        (
            "userId,movieId,rating,timestamp\n1,1,4,1\n1,2,good,2\n",
            r"ratings\.csv, line 3: rating 'good' is not a finite number",
        ),
        (
            "userId,movieId,rating,timestamp\n1,1,4,1\n1,2,5.5,2\n",
            r"ratings\.csv, line 3: rating 5\.5 is outside 0\.5\.\.5 stars",
        ),
        ("userId,movieId,rating,timestamp\n1,1,0,1\n", r"ratings\.csv, line 2: rating 0 is outside 0\.5\.\.5 stars"),
        (
            "userId,movieId,rating,timestamp\n1,1,4,1\n1,99,4,1\n",
            r"ratings\.csv, line 3: movieId '99' is not in movies\.csv",
        ),
        ("userId,movieId,rating,timestamp\n1,1,4,1\n1,2,,1\n", r"ratings\.csv, line 3: rating is empty"),
        ("userId,movieId,rating,timestamp\n,1,4,1\n", r"ratings\.csv, line 2: userId is empty"),
        ("userId,movieId,rating,timestamp\n1,1,4,1.5\n", r"ratings\.csv, line 2: timestamp 1\.5 is not whole seconds"),
        ("", r"ratings\.csv: file is empty"),
    ],
)
def test_bad_ratings_are_named_with_file_and_line(tmp_path: Path, ratings: str, message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        load_movielens_csv(_write(tmp_path, ratings=ratings))


@pytest.mark.parametrize(
    ("movies", "message"),
    [
        ("movieId,title\n1,Toy Story (1995)\n", r"movies\.csv, line 1: missing column\(s\) genres"),
        (
            "movieId,title,genres\n1,A (1990),Drama\n1,B (1991),Drama\n",
            r"movies\.csv, line 3: movieId '1' appears twice",
        ),
        ("movieId,title,genres\n1,,Drama\n", r"movies\.csv, line 2: title is empty"),
    ],
)
def test_bad_movies_are_named_with_file_and_line(tmp_path: Path, movies: str, message: str) -> None:
    with pytest.raises(DataFormatError, match=message):
        load_movielens_csv(_write(tmp_path, movies=movies))


def test_missing_directory_and_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="directory not found"):
        load_movielens_csv(tmp_path / "nowhere")
    _write(tmp_path).joinpath("ratings.csv").unlink()
    with pytest.raises(DataFormatError, match=r"ratings\.csv: file not found"):
        load_movielens_csv(tmp_path)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Toy Story (1995)", ("Toy Story", 1995)),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            ("City of Lost Children, The (Cité des enfants perdus, La)", 1995),
        ),
        ("Babylon 5 (1994-1998)", ("Babylon 5", 1994)),
        ("No Year", ("No Year", None)),
        ("(1995)", ("(1995)", None)),
    ],
)
def test_split_year(title: str, expected: tuple[str, int | None]) -> None:
    assert split_year(title) == expected


def test_ids_that_are_not_integers_are_kept_as_text(tmp_path: Path) -> None:
    movies = "movieId,title,genres\ntt01,Alpha (2001),Drama\n2,Beta (2002),Comedy\n"
    ratings = "userId,movieId,rating,timestamp\nalice,tt01,4.5,10\n 42 ,2,3,11\n"

    seed = load_movielens_csv(_write(tmp_path, movies=movies, ratings=ratings))

    assert seed.ratings[Columns.User].tolist() == ["csv:alice", "csv:42"]
    assert seed.ratings[Columns.Item].tolist() == [film_id_for("csv:tt01"), film_id_for("csv:2")]
    assert seed.ratings[Columns.Rating].tolist() == [9.0, 6.0]


def test_integer_ratings_ids_match_text_movie_ids(tmp_path: Path) -> None:
    movies = "movieId,title,genres\nx9,Alpha (2001),Drama\n2,Beta (2002),Comedy\n"
    ratings = "userId,movieId,rating,timestamp\n1,2,4.5,10\n"

    seed = load_movielens_csv(_write(tmp_path, movies=movies, ratings=ratings))

    assert seed.ratings[Columns.Item].tolist() == [film_id_for("csv:2")]


def test_a_header_without_rows_is_a_valid_set_of_zero_ratings(tmp_path: Path) -> None:
    seed = load_movielens_csv(_write(tmp_path, ratings="userId,movieId,rating,timestamp\n"))
    assert seed.ratings.empty
    assert len(seed.films) > 0
