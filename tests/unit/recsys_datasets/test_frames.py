from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.domain import Film, Person
from recsys_common.ids import film_id_for, person_id_for
from recsys_datasets.frames import FilmFrameError, films_from_frame, frame_of_films


def test_rows_become_films_with_unknowns_as_none(make_frame) -> None:
    frame = make_frame(
        2,
        **{
            Columns.Year: pd.array([1994, None], dtype="Int64"),
            Columns.ImdbRating: [8.5, np.nan],
            Columns.ImdbVotes: [1234.0, np.nan],
            Columns.RtRating: [91.0, np.nan],
            Columns.Genres: [("Drama", "Crime"), ()],
        },
    )
    films = films_from_frame(frame)
    assert films[0] == Film(
        film_id=film_id_for("test:0"),
        title="Film 0",
        year=1994,
        genres=("Drama", "Crime"),
        imdb_rating=8.5,
        imdb_votes=1234,
        rt_rating=91.0,
        description="Description 0",
    )
    assert films[1] == Film(film_id=film_id_for("test:1"), title="Film 1", description="Description 1")
    assert isinstance(films[0].year, int)
    assert isinstance(films[0].imdb_votes, int)


def test_description_column_is_optional(make_frame) -> None:
    frame = make_frame(1).drop(columns=[Columns.Description])
    assert films_from_frame(frame)[0].description == ""


def test_repeated_genres_are_kept_once_in_order(make_frame) -> None:
    frame = make_frame(1, **{Columns.Genres: [("Drama", "Comedy", "Drama")]})
    assert films_from_frame(frame)[0].genres == ("Drama", "Comedy")


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        (Columns.Item, ["test:0", "not-a-uuid"], r"row 0, column film_id: film id 'test:0' is not a UUID"),
        (Columns.Title, ["Film", "  "], r"row 1, column title: title must be a non-blank string"),
        (Columns.ImdbRating, [7.0, 11.0], r"row 1, column imdb_rating: 11.0 is outside 1..10"),
        (Columns.ImdbVotes, [-1.0, 3.0], r"row 0, column imdb_votes: -1.0 is outside 0..inf"),
        (Columns.RtRating, [50.0, 101.0], r"row 1, column rt_rating: 101.0 is outside 0..100"),
        (Columns.Year, pd.array([1700, 2000], dtype="Int64"), r"row 0, column year: 1700 is outside 1870..2200"),
        (Columns.Genres, [("Drama",), "Drama"], r"row 1, column genres: expected a tuple of genre names"),
        (Columns.ImdbRating, [7.0, "good"], r"row 1, column imdb_rating: 'good' is not a number"),
    ],
)
def test_bad_value_names_row_and_column(make_frame, column: str, values: object, message: str) -> None:
    with pytest.raises(FilmFrameError, match=message):
        films_from_frame(make_frame(2, **{column: values}))


def test_missing_column_is_named(make_frame) -> None:
    with pytest.raises(FilmFrameError, match=r"lacks the columns \['imdb_votes'\]"):
        films_from_frame(make_frame(1).drop(columns=[Columns.ImdbVotes]))


def test_repeated_film_id_is_an_error(make_frame) -> None:
    frame = make_frame(3)
    frame.loc[2, Columns.Item] = frame.loc[0, Columns.Item]
    with pytest.raises(FilmFrameError, match=r"row 2, column film_id: film .* repeats row 0"):
        films_from_frame(frame)


def test_directors_become_people_with_ids_derived_from_their_names(make_frame) -> None:
    frame = make_frame(2).assign(**{Columns.Directors: [("Sergio  Leone",), ()]})
    first, second = films_from_frame(frame)
    assert first.directors == (Person(person_id_for("sergio leone"), "Sergio Leone"),)
    assert second.directors == ()
    engine_frame = frame_of_films([first, second])
    assert engine_frame[Columns.DirectorIds].tolist() == [(person_id_for("Sergio Leone"),), ()]


def test_a_blank_director_name_is_refused(make_frame) -> None:
    with pytest.raises(FilmFrameError, match="directors"):
        films_from_frame(make_frame(1).assign(**{Columns.Directors: [(" ",)]}))
