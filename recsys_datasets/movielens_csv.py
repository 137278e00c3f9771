"""Any ratings set in the MovieLens CSV layout, so a user can train and evaluate on their own data.

- ``movies.csv``: movieId,title,genres — title like "Usual Suspects, The (1995)" (year in
  parentheses at the end, may be missing), genres separated by "|" ("(no genres listed)" = none).
- ``ratings.csv``: userId,movieId,rating,timestamp — rating 0.5..5 stars, timestamp unix seconds.

Stars are doubled onto the platform scale 1..10. Film source ids are ``csv:<movieId>``, user ids
``csv:<userId>``. Validation is strict: a problem raises DataFormatError naming file and line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN
from recsys_datasets.catalogue import describe, display_title
from recsys_datasets.errors import DataFormatError
from recsys_datasets.seeddata import Report, SeedData, make_films, make_ratings
from recsys_datasets.tables import first_true, keep_latest, line_of, read_csv_checked, show, to_number, to_text

MOVIES_FILE = "movies.csv"
RATINGS_FILE = "ratings.csv"
MOVIE_ID = "movieId"
MOVIE_TITLE = "title"
MOVIE_GENRES = "genres"
USER_ID = "userId"
RATING = "rating"
TIMESTAMP = "timestamp"
MOVIES_COLUMNS = (MOVIE_ID, MOVIE_TITLE, MOVIE_GENRES)
RATINGS_COLUMNS = (USER_ID, MOVIE_ID, RATING, TIMESTAMP)

SOURCE_PREFIX = "csv:"
USER_PREFIX = "csv:"
GENRE_SEPARATOR = "|"
NO_GENRES = "(no genres listed)"
#: MovieLens stars (0.5..5) times this factor give the platform scale (1..10).
STARS_TO_PLATFORM = 2.0
STARS_MIN = RATING_MIN / STARS_TO_PLATFORM
STARS_MAX = RATING_MAX / STARS_TO_PLATFORM

#: "Name (1995)" and "Series (1994-1998)": the first year in the trailing parentheses.
_TITLE_YEAR = re.compile(r"^(?P<name>.*?)\s*\((?P<year>\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$")


def split_year(title: str) -> tuple[str, int | None]:
    """``("Usual Suspects, The", 1995)`` of "Usual Suspects, The (1995)"; year None when absent."""
    found = _TITLE_YEAR.match(title)
    if found is None or not found["name"].strip():
        return title.strip(), None
    return found["name"].strip(), int(found["year"])


def load_movielens_csv(directory: Path) -> SeedData:
    """Read ``movies.csv`` and ``ratings.csv`` from ``directory`` into a SeedData."""
    if not directory.is_dir():
        raise DataFormatError(directory, f"directory not found (expected {MOVIES_FILE} and {RATINGS_FILE} in it)")
    films, movie_ids = _read_movies(directory / MOVIES_FILE)
    ratings, counts = _read_ratings(directory / RATINGS_FILE, movie_ids, films[Columns.Item])
    report: Report = {"films": len(films), "ratings": len(ratings), **counts}
    return SeedData(films=films, ratings=ratings, report=report)


def _read_movies(path: Path) -> tuple[pd.DataFrame, pd.Series[str]]:
    raw = read_csv_checked(path, MOVIES_COLUMNS, MOVIES_COLUMNS, what="movies")
    movie_ids = to_text(path, raw, MOVIE_ID)
    duplicated = movie_ids.duplicated()
    if duplicated.any():
        pos = first_true(duplicated)
        raise DataFormatError(path, f"movieId {movie_ids.iloc[pos]!r} appears twice", line_of(pos))
    titles = to_text(path, raw, MOVIE_TITLE)
    split = [split_year(t) for t in titles]
    years = [year for _, year in split]
    genres = [
        tuple(g.strip() for g in text.split(GENRE_SEPARATOR) if g.strip() and g.strip() != NO_GENRES)
        for text in raw[MOVIE_GENRES].astype(str)
    ]
    films = make_films(
        source_ids=SOURCE_PREFIX + movie_ids,
        titles=[display_title(name) for name, _ in split],
        years=years,
        genres=genres,
        description=[describe(g, y) for g, y in zip(genres, years, strict=True)],
    )
    return films, movie_ids


def _read_ratings(
    path: Path, movie_ids: pd.Series[str], film_ids: pd.Series[str]
) -> tuple[pd.DataFrame, dict[str, int]]:
    # A header and no rows is a valid set of zero ratings (the engine then publishes cold start only).
    raw = read_csv_checked(path, RATINGS_COLUMNS, what="ratings", allow_empty=True)
    users = _ids(path, raw, USER_ID)
    movies = _ids(path, raw, MOVIE_ID)
    positions = _positions(movie_ids, movies)
    unknown = positions < 0
    if unknown.any():
        pos = first_true(unknown)
        raise DataFormatError(path, f"movieId {show(str(movies.iloc[pos]))} is not in {MOVIES_FILE}", line_of(pos))
    stars = to_number(path, raw, RATING)
    out = ~stars.between(STARS_MIN, STARS_MAX)
    if out.any():
        pos = first_true(out)
        raise DataFormatError(
            path, f"rating {show(raw[RATING].iloc[pos])} is outside {STARS_MIN:g}..{STARS_MAX:g} stars", line_of(pos)
        )
    stamps = to_number(path, raw, TIMESTAMP)
    fractional = stamps != stamps.round()
    if fractional.any():
        pos = first_true(fractional)
        raise DataFormatError(path, f"timestamp {show(raw[TIMESTAMP].iloc[pos])} is not whole seconds", line_of(pos))
    # Work on integer codes: hashing a million strings twice costs seconds.
    user_codes, user_values = pd.factorize(users)
    # A pair rated twice keeps its latest rating (as the rating stores do).
    seconds = stamps.to_numpy().astype(np.int64)
    latest = keep_latest(user_codes, positions, seconds)
    user_ids = (USER_PREFIX + pd.Series(user_values).astype(str)).to_numpy()
    ratings = make_ratings(
        user_ids=user_ids[user_codes[latest]],
        film_ids=film_ids.to_numpy()[positions[latest]],
        ratings=stars.to_numpy()[latest] * STARS_TO_PLATFORM,
        timestamps=seconds[latest],
    )
    counts = {
        "users": len(user_values),
        "films_without_ratings": len(movie_ids) - len(np.unique(positions)),
        "duplicate_ratings_dropped": len(positions) - len(latest),
    }
    return ratings, counts


def _ids(path: Path, raw: pd.DataFrame, column: str) -> pd.Series[Any]:
    """An id column: kept as int64 when pandas read it as integers (the MovieLens case, and much
    faster than a million strings), else as stripped non-empty text."""
    values = raw[column]
    if pd.api.types.is_integer_dtype(values):
        return values
    return to_text(path, raw, column)


def _positions(movie_ids: pd.Series[str], rated: pd.Series[Any]) -> npt.NDArray[np.intp]:
    """Row in movies.csv of each rated movieId; -1 when it is not there."""
    if pd.api.types.is_integer_dtype(rated):
        numbers = pd.to_numeric(movie_ids, errors="coerce")
        if numbers.notna().all() and (numbers == numbers.round()).all() and numbers.is_unique:
            return pd.Index(numbers.astype("int64")).get_indexer(pd.Index(rated))
        rated = rated.astype(str)
    return pd.Index(movie_ids).get_indexer(pd.Index(rated))
