"""Films frames and domain Films: frames (``Columns.FILMS`` + ``Columns.Description``) become Films
checked row by row (the writers of the catalogue), and Films become the engine's films frame."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN, Film, Person
from recsys_common.ids import parse_film_id, person_id_for

REQUIRED_COLUMNS: tuple[str, ...] = (
    Columns.Item,
    Columns.Title,
    Columns.Year,
    Columns.Genres,
    Columns.ImdbRating,
    Columns.ImdbVotes,
    Columns.RtRating,
)
RT_MIN = 0.0
RT_MAX = 100.0
#: The years ``schema.sql`` accepts.
YEAR_MIN = 1870
YEAR_MAX = 2200


class FilmFrameError(ValueError):
    """A films frame that cannot become Films; the message names the row and the column."""


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _number(row: int, column: str, value: Any, low: float, high: float) -> float | None:
    if _missing(value):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise FilmFrameError(f"row {row}, column {column}: {value!r} is not a number") from exc
    if not math.isfinite(number) or not low <= number <= high:
        raise FilmFrameError(f"row {row}, column {column}: {value!r} is outside {low:g}..{high:g}")
    return number


def film_from_record(values: Mapping[str, Any], row: int = 0) -> Film:
    """One film from its column values (``REQUIRED_COLUMNS``; description and directors' names
    optional, a director's person id derives from the name); raise
    FilmFrameError naming the row and the column of a value the catalogue would reject."""
    try:
        film_id = parse_film_id(str(values[Columns.Item]))
    except ValueError as exc:
        raise FilmFrameError(f"row {row}, column {Columns.Item}: {exc}") from exc
    title = values[Columns.Title]
    if not isinstance(title, str) or not title.strip():
        raise FilmFrameError(f"row {row}, column {Columns.Title}: title must be a non-blank string, got {title!r}")
    year = values[Columns.Year]
    if not _missing(year):
        try:
            year = int(year)
        except (TypeError, ValueError) as exc:
            raise FilmFrameError(f"row {row}, column {Columns.Year}: {year!r} is not a year") from exc
        if not YEAR_MIN <= year <= YEAR_MAX:
            raise FilmFrameError(f"row {row}, column {Columns.Year}: {year} is outside {YEAR_MIN}..{YEAR_MAX}")
    genres = values[Columns.Genres]
    if not isinstance(genres, tuple | list) or not all(isinstance(g, str) and g.strip() for g in genres):
        raise FilmFrameError(f"row {row}, column {Columns.Genres}: expected a tuple of genre names, got {genres!r}")
    votes = _number(row, Columns.ImdbVotes, values[Columns.ImdbVotes], 0.0, math.inf)
    description = values.get(Columns.Description, "")
    directors = values.get(Columns.Directors, ())
    if _missing(directors):
        directors = ()
    if not isinstance(directors, tuple | list) or not all(isinstance(d, str) and d.strip() for d in directors):
        raise FilmFrameError(f"row {row}, column {Columns.Directors}: expected a tuple of names, got {directors!r}")
    return Film(
        film_id=film_id,
        title=title,
        year=None if _missing(year) else year,
        genres=tuple(dict.fromkeys(genres)),
        imdb_rating=_number(row, Columns.ImdbRating, values[Columns.ImdbRating], RATING_MIN, RATING_MAX),
        imdb_votes=None if votes is None else round(votes),
        rt_rating=_number(row, Columns.RtRating, values[Columns.RtRating], RT_MIN, RT_MAX),
        description="" if _missing(description) else str(description),
        directors=tuple(Person(person_id_for(name), " ".join(name.split())) for name in dict.fromkeys(directors)),
    )


def films_from_frame(frame: pd.DataFrame) -> list[Film]:
    """Return the frame's films in row order; raise FilmFrameError naming a bad row (0-based) or column."""
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise FilmFrameError(f"films frame lacks the columns {missing}; it has {list(frame.columns)}")
    optional = [c for c in (Columns.Description, Columns.Directors) if c in frame.columns]
    columns = [*REQUIRED_COLUMNS, *optional]
    films = [
        film_from_record(dict(zip(columns, values, strict=True)), row)
        for row, values in enumerate(frame[columns].itertuples(index=False, name=None))
    ]
    seen: dict[str, int] = {}
    for row, film in enumerate(films):
        first = seen.setdefault(film.film_id, row)
        if first != row:
            raise FilmFrameError(f"row {row}, column {Columns.Item}: film {film.film_id} repeats row {first}")
    return films


#: Columns of the frame ``frame_of_films`` returns (the catalogue has no source ids).
CATALOGUE_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, Columns.Description, Columns.DirectorIds)


def frame_of_films(films: Iterable[Film]) -> pd.DataFrame:
    """The films as a frame with ``CATALOGUE_COLUMNS``: year as nullable Int64, genres and the
    directors' person ids as tuples, ratings and votes as float64 with NaN for unknown, in the order given."""
    rows = list(films)

    def floats(values: Iterable[float | int | None]) -> Any:
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)

    return pd.DataFrame(
        {
            Columns.Item: pd.Series([f.film_id for f in rows], dtype=str),
            Columns.Title: pd.Series([f.title for f in rows], dtype=str),
            Columns.Year: pd.array([f.year for f in rows], dtype="Int64"),
            Columns.Genres: pd.Series([tuple(f.genres) for f in rows], dtype=object),
            Columns.ImdbRating: floats(f.imdb_rating for f in rows),
            Columns.ImdbVotes: floats(f.imdb_votes for f in rows),
            Columns.RtRating: floats(f.rt_rating for f in rows),
            Columns.Description: pd.Series([f.description for f in rows], dtype=str),
            Columns.DirectorIds: pd.Series([tuple(p.person_id for p in f.directors) for f in rows], dtype=object),
        },
        columns=list(CATALOGUE_COLUMNS),
    )
