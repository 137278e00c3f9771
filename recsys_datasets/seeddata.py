"""The seed set: films + ratings frames with a report, and its CSV form on disk.

``films`` carries ``Columns.FILMS`` + description + directors: film_id / source_id / title /
description as strings, year as nullable ``Int64``, genres and directors' names as ``tuple[str, ...]``, IMDb rating,
IMDb votes and RT rating as float64 (NaN when unknown). ``ratings`` carries ``Columns.RATINGS``:
user_id and film_id strings, rating float64 on the platform scale, timestamp int64 unix seconds.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN
from recsys_common.ids import film_id_for
from recsys_datasets.errors import DataFormatError
from recsys_datasets.tables import first_true, line_of, read_csv_checked, show, to_number, to_text

FILM_COLUMNS: tuple[str, ...] = (*Columns.FILMS, Columns.Description, Columns.Directors)
RATING_COLUMNS: tuple[str, ...] = Columns.RATINGS

FILMS_FILE = "films.csv"
RATINGS_FILE = "ratings.csv"
REPORT_FILE = "report.json"
#: Separator of names inside the genres and directors fields of films.csv.
GENRE_SEPARATOR = "|"

_FILM_TEXT = (Columns.Item, Columns.SourceId, Columns.Title, Columns.Genres, Columns.Description, Columns.Directors)
_FILM_FLOATS = (Columns.ImdbRating, Columns.ImdbVotes, Columns.RtRating)
_RATING_TEXT = (Columns.User, Columns.Item)

Report = dict[str, int | float]


def make_films(
    source_ids: Iterable[str],
    titles: Iterable[str],
    years: Iterable[int | None],
    genres: Iterable[tuple[str, ...]],
    imdb_rating: Iterable[float] | None = None,
    imdb_votes: Iterable[float] | None = None,
    rt_rating: Iterable[float] | None = None,
    description: Iterable[str] | None = None,
    directors: Iterable[tuple[str, ...]] | None = None,
) -> pd.DataFrame:
    """Build a films frame with the canonical columns and dtypes; film ids derive from source ids."""
    sources = [str(s) for s in source_ids]
    n = len(sources)

    def floats(values: Iterable[float] | None) -> npt.NDArray[np.float64]:
        if values is None:
            return np.full(n, np.nan)
        return _array(values, np.float64)

    frame = pd.DataFrame(
        {
            Columns.Item: pd.Series([film_id_for(s) for s in sources], dtype=str),
            Columns.SourceId: pd.Series(sources, dtype=str),
            Columns.Title: pd.Series(list(titles), dtype=str),
            Columns.Year: pd.array(list(years), dtype="Int64"),
            Columns.Genres: pd.Series([tuple(g) for g in genres], dtype=object),
            Columns.ImdbRating: floats(imdb_rating),
            Columns.ImdbVotes: floats(imdb_votes),
            Columns.RtRating: floats(rt_rating),
            Columns.Description: pd.Series([""] * n if description is None else list(description), dtype=str),
            Columns.Directors: pd.Series(
                [()] * n if directors is None else [tuple(d) for d in directors], dtype=object
            ),
        }
    )
    return frame


def make_ratings(
    user_ids: Iterable[str],
    film_ids: Iterable[str],
    ratings: Iterable[float],
    timestamps: Iterable[int],
) -> pd.DataFrame:
    """Build a ratings frame with the canonical columns and dtypes."""
    return pd.DataFrame(
        {
            Columns.User: pd.Series(_array(user_ids, object), dtype=str),
            Columns.Item: pd.Series(_array(film_ids, object), dtype=str),
            Columns.Rating: _array(ratings, np.float64),
            Columns.Timestamp: _array(timestamps, np.int64),
        }
    )


def _array(values: Iterable[object], dtype: type) -> npt.NDArray[Any]:
    """``values`` as a numpy array; Series and arrays are converted without a Python loop."""
    if isinstance(values, pd.Series | np.ndarray | pd.api.extensions.ExtensionArray):
        return np.asarray(values, dtype=dtype)
    return np.asarray(list(values), dtype=dtype)


def check_films(films: pd.DataFrame) -> None:
    """Raise ValueError when ``films`` does not have the canonical layout."""
    if tuple(films.columns) != FILM_COLUMNS:
        raise ValueError(f"films columns must be {list(FILM_COLUMNS)}, got {list(films.columns)}")
    duplicated = films[Columns.Item].duplicated()
    if duplicated.any():
        pos = first_true(duplicated)
        raise ValueError(f"film {films[Columns.SourceId].iloc[pos]!r} appears more than once")
    if str(films[Columns.Year].dtype) != "Int64":
        raise ValueError(f"films year must be Int64, got {films[Columns.Year].dtype}")
    for column in _FILM_FLOATS:
        if films[column].dtype != np.float64:
            raise ValueError(f"films {column} must be float64, got {films[column].dtype}")


def check_ratings(ratings: pd.DataFrame, films: pd.DataFrame) -> None:
    """Raise ValueError when ``ratings`` is not canonical or names a film not in ``films``."""
    if tuple(ratings.columns) != RATING_COLUMNS:
        raise ValueError(f"ratings columns must be {list(RATING_COLUMNS)}, got {list(ratings.columns)}")
    if ratings[Columns.Rating].dtype != np.float64 or ratings[Columns.Timestamp].dtype != np.int64:
        raise ValueError("ratings must have float64 rating and int64 timestamp")
    values = ratings[Columns.Rating]
    out = ~values.between(RATING_MIN, RATING_MAX)
    if out.any():
        pos = first_true(out)
        raise ValueError(f"rating {show(values.iloc[pos])} at row {pos} is outside {RATING_MIN:g}..{RATING_MAX:g}")
    unknown = ~ratings[Columns.Item].isin(films[Columns.Item])
    if unknown.any():
        pos = first_true(unknown)
        raise ValueError(f"rating at row {pos} names film {ratings[Columns.Item].iloc[pos]!r} not in films")


@dataclass(frozen=True, eq=False)
class SeedData:
    """A seed set: films, ratings on the platform scale and a report of how it was built."""

    films: pd.DataFrame
    ratings: pd.DataFrame
    report: Report

    def __post_init__(self) -> None:
        check_films(self.films)
        check_ratings(self.ratings, self.films)


def save_seed(seed: SeedData, directory: Path) -> None:
    """Write ``films.csv`` (genres joined by "|"), ``ratings.csv`` and ``report.json``.

    Each file is written to a temporary name and renamed, so a reader never sees half a file.
    """
    for column in (Columns.Genres, Columns.Directors):
        bad = [g for names in seed.films[column] for g in names if GENRE_SEPARATOR in g]
        if bad:
            raise ValueError(f"{column} value {bad[0]!r} contains the separator {GENRE_SEPARATOR!r}")
    directory.mkdir(parents=True, exist_ok=True)
    films = seed.films.copy()
    films[Columns.Genres] = films[Columns.Genres].map(GENRE_SEPARATOR.join)
    films[Columns.Directors] = films[Columns.Directors].map(GENRE_SEPARATOR.join)
    _write_atomic(directory / FILMS_FILE, lambda path: films.to_csv(path, index=False))
    _write_atomic(directory / RATINGS_FILE, lambda path: seed.ratings.to_csv(path, index=False))
    report = json.dumps(seed.report, indent=2, sort_keys=True)
    _write_atomic(directory / REPORT_FILE, lambda path: path.write_text(report + "\n", encoding="utf-8"))


def load_seed(directory: Path) -> SeedData:
    """Read a seed set written by :func:`save_seed`; raise DataFormatError naming what is wrong."""
    if not directory.is_dir():
        raise DataFormatError(directory, "seed directory does not exist; build the seed set first")
    for name in (FILMS_FILE, RATINGS_FILE, REPORT_FILE):
        if not (directory / name).is_file():
            raise DataFormatError(directory / name, "missing from the seed directory; build the seed set again")
    films = _load_films(directory / FILMS_FILE)
    ratings = _load_ratings(directory / RATINGS_FILE, films)
    report = _load_report(directory / REPORT_FILE)
    return SeedData(films=films, ratings=ratings, report=report)


def _write_atomic(target: Path, write: Callable[[Path], object]) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _check_exact_columns(path: Path, found: Iterable[str], expected: Sequence[str]) -> None:
    found = list(found)
    if found != list(expected):
        raise DataFormatError(path, f"columns must be {','.join(expected)}; found {','.join(found)}", 1)


#: A seed saved before films carried directors has every column but this one.
_EARLIER_FILM_COLUMNS = FILM_COLUMNS[:-1]


def _load_films(path: Path) -> pd.DataFrame:
    raw = read_csv_checked(
        path, _EARLIER_FILM_COLUMNS, _FILM_TEXT, what="films", na_columns=(Columns.Year, *_FILM_FLOATS)
    )
    if tuple(raw.columns) == _EARLIER_FILM_COLUMNS:
        raw[Columns.Directors] = ""  # an earlier seed: no director known
    _check_exact_columns(path, raw.columns, FILM_COLUMNS)
    source_ids = to_text(path, raw, Columns.SourceId)
    film_ids = to_text(path, raw, Columns.Item)
    expected_ids = source_ids.map(film_id_for)
    wrong = film_ids != expected_ids
    if wrong.any():
        pos = first_true(wrong)
        raise DataFormatError(
            path, f"film_id {film_ids.iloc[pos]!r} is not the id of source {source_ids.iloc[pos]!r}", line_of(pos)
        )
    duplicated = film_ids.duplicated()
    if duplicated.any():
        pos = first_true(duplicated)
        raise DataFormatError(path, f"film {source_ids.iloc[pos]!r} appears twice", line_of(pos))
    years = to_number(path, raw, Columns.Year, allow_missing=True)
    fractional = years.notna() & (years != years.round())
    if fractional.any():
        pos = first_true(fractional)
        raise DataFormatError(path, f"year {show(raw[Columns.Year].iloc[pos])} is not a whole number", line_of(pos))
    genres = raw[Columns.Genres].map(lambda text: tuple(g for g in str(text).split(GENRE_SEPARATOR) if g))
    directors = raw[Columns.Directors].map(lambda text: tuple(d for d in str(text).split(GENRE_SEPARATOR) if d))
    films = make_films(
        source_ids=source_ids,
        titles=raw[Columns.Title],
        years=[None if math.isnan(y) else int(y) for y in years],
        genres=genres,
        imdb_rating=to_number(path, raw, Columns.ImdbRating, allow_missing=True),
        imdb_votes=to_number(path, raw, Columns.ImdbVotes, allow_missing=True),
        rt_rating=to_number(path, raw, Columns.RtRating, allow_missing=True),
        description=raw[Columns.Description],
        directors=directors,
    )
    return films


def _load_ratings(path: Path, films: pd.DataFrame) -> pd.DataFrame:
    raw = read_csv_checked(path, RATING_COLUMNS, _RATING_TEXT, what="ratings", allow_empty=True)
    _check_exact_columns(path, raw.columns, RATING_COLUMNS)
    users = to_text(path, raw, Columns.User)
    film_ids = to_text(path, raw, Columns.Item)
    unknown = ~film_ids.isin(films[Columns.Item])
    if unknown.any():
        pos = first_true(unknown)
        raise DataFormatError(path, f"film_id {film_ids.iloc[pos]!r} is not in {FILMS_FILE}", line_of(pos))
    values = to_number(path, raw, Columns.Rating)
    out = ~values.between(RATING_MIN, RATING_MAX)
    if out.any():
        pos = first_true(out)
        raise DataFormatError(
            path, f"rating {values.iloc[pos]:g} is outside {RATING_MIN:g}..{RATING_MAX:g}", line_of(pos)
        )
    stamps = to_number(path, raw, Columns.Timestamp)
    fractional = stamps != stamps.round()
    if fractional.any():
        pos = first_true(fractional)
        raise DataFormatError(path, f"timestamp {show(stamps.iloc[pos])} is not whole seconds", line_of(pos))
    return make_ratings(users, film_ids, values, stamps.astype("int64"))


def _load_report(path: Path) -> Report:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(path, f"not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise DataFormatError(path, "must hold a JSON object of name -> number")
    report: Report = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DataFormatError(path, f"report entry {key!r} must be a number, got {value!r}")
        report[str(key)] = value
    return report
