"""SeedData invariants and its CSV form: save_seed / load_seed round trip and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.ids import film_id_for
from recsys_datasets.errors import DataFormatError
from recsys_datasets.seeddata import (
    FILMS_FILE,
    RATINGS_FILE,
    REPORT_FILE,
    SeedData,
    load_seed,
    make_films,
    make_ratings,
    save_seed,
)


def _seed() -> SeedData:
    films = make_films(
        source_ids=["t:1", "t:2", "t:3"],
        # titles that a careless CSV reader would turn into NaN or split
        titles=["NA", 'Say "Hello", World', "None"],
        years=[1995, None, 2001],
        genres=[("Drama", "Action & Adventure"), (), ("Comedy",)],
        imdb_rating=[7.5, np.nan, 6.0],
        imdb_votes=[1000.0, np.nan, 3.0],
        rt_rating=[np.nan, 90.0, 12.5],
        description=["two\nlines", "", "nan"],
        directors=[("Joel Coen", "Ethan Coen"), (), ("NA",)],
    )
    ratings = make_ratings(
        user_ids=["u:1", "u:2", "NULL"],
        film_ids=[film_id_for("t:1"), film_id_for("t:1"), film_id_for("t:3")],
        ratings=[1.0, 10.0, 7.5],
        timestamps=[0, 1_700_000_000, 2_000_000_000],
    )
    return SeedData(films=films, ratings=ratings, report={"films": 3, "share": 0.5})


def test_round_trip_keeps_values_and_dtypes(tmp_path: Path) -> None:
    seed = _seed()

    save_seed(seed, tmp_path / "seed")
    loaded = load_seed(tmp_path / "seed")

    pd.testing.assert_frame_equal(loaded.films, seed.films)
    pd.testing.assert_frame_equal(loaded.ratings, seed.ratings)
    assert loaded.report == {"films": 3, "share": 0.5}
    assert sorted(p.name for p in (tmp_path / "seed").iterdir()) == [FILMS_FILE, RATINGS_FILE, REPORT_FILE]


def test_films_csv_joins_genres_with_a_bar(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    first_row = (tmp_path / FILMS_FILE).read_text(encoding="utf-8").splitlines()[1]
    assert "Drama|Action & Adventure" in first_row


def test_missing_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataFormatError, match="seed directory does not exist"):
        load_seed(tmp_path / "nowhere")


def test_missing_file_is_named(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    (tmp_path / REPORT_FILE).unlink()

    with pytest.raises(DataFormatError, match=r"report\.json: missing from the seed directory"):
        load_seed(tmp_path)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bad_rating_names_file_and_line(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    _edit(tmp_path / RATINGS_FILE, ",7.5,", ",eleven,")

    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 4: rating 'eleven' is not a finite number"):
        load_seed(tmp_path)


def test_rating_off_the_scale_is_named(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    _edit(tmp_path / RATINGS_FILE, ",10.0,", ",11.0,")

    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 3: rating 11 is outside 1\.\.10"):
        load_seed(tmp_path)


def test_film_id_that_is_not_the_source_id_is_named(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    _edit(tmp_path / FILMS_FILE, film_id_for("t:2"), film_id_for("t:9"))

    with pytest.raises(DataFormatError, match=r"films\.csv, line 3: film_id .* is not the id of source 't:2'"):
        load_seed(tmp_path)


def test_rating_of_unknown_film_is_named(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    _edit(tmp_path / RATINGS_FILE, film_id_for("t:3"), film_id_for("t:9"))

    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 4: film_id .* is not in films\.csv"):
        load_seed(tmp_path)


def test_wrong_columns_are_named(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    _edit(tmp_path / RATINGS_FILE, "user_id,film_id,rating,timestamp", "user,film_id,rating,timestamp")

    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 1: missing column\(s\) user_id"):
        load_seed(tmp_path)


def test_report_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    save_seed(_seed(), tmp_path)
    (tmp_path / REPORT_FILE).write_text(json.dumps([1, 2]), encoding="utf-8")

    with pytest.raises(DataFormatError, match="must hold a JSON object"):
        load_seed(tmp_path)


def test_seed_data_refuses_ratings_of_unknown_films() -> None:
    seed = _seed()
    stray = make_ratings(["u"], [film_id_for("t:404")], [5.0], [0])

    with pytest.raises(ValueError, match="not in films"):
        SeedData(films=seed.films, ratings=stray, report={})


def test_seed_data_refuses_wrong_columns() -> None:
    seed = _seed()

    with pytest.raises(ValueError, match="films columns must be"):
        SeedData(films=seed.films.drop(columns=[Columns.Description]), ratings=seed.ratings, report={})


def test_seed_data_refuses_ratings_off_the_scale() -> None:
    seed = _seed()
    loud = make_ratings(["u"], [film_id_for("t:1")], [0.5], [0])

    with pytest.raises(ValueError, match=r"outside 1\.\.10"):
        SeedData(films=seed.films, ratings=loud, report={})


def test_genre_with_the_separator_cannot_be_saved(tmp_path: Path) -> None:
    seed = _seed()
    films = seed.films.copy()
    films[Columns.Genres] = [("Drama|Comedy",), (), ("Comedy",)]

    with pytest.raises(ValueError, match="contains the separator"):
        save_seed(SeedData(films=films, ratings=seed.ratings, report={}), tmp_path)


def test_a_seed_saved_before_films_carried_directors_still_loads(tmp_path: Path) -> None:
    seed = _seed()
    save_seed(seed, tmp_path / "seed")
    films_csv = tmp_path / "seed" / FILMS_FILE
    earlier = pd.read_csv(films_csv, dtype=str, keep_default_na=False).drop(columns=[Columns.Directors])
    earlier.to_csv(films_csv, index=False)
    loaded = load_seed(tmp_path / "seed")
    assert loaded.films[Columns.Directors].tolist() == [(), (), ()]
    assert loaded.films[Columns.Title].tolist() == seed.films[Columns.Title].tolist()
