"""Ratings + films frames -> id maps and a users x films CSR matrix of rating values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN

#: A users x films (or films x features) sparse matrix of float32 values, rows compressed.
Csr: TypeAlias = "sp.csr_matrix[np.float32]"

StrArray = npt.NDArray[np.str_]
IndexArray = npt.NDArray[np.int64]

#: How many offending values an error message quotes.
EXAMPLES_IN_ERROR = 5
#: Rating matrices hold float32 values on the platform scale.
MATRIX_DTYPE = np.float32


@dataclass(frozen=True)
class Dataset:
    """The training data of one cycle.

    ``user_ids[i]`` is the user of row ``i``; ``film_ids[j]`` the film of column ``j`` (every film
    of the catalogue, rated or not); ``matrix`` holds the latest rating of each (user, film) pair
    as float32 on the platform scale; ``films`` is the catalogue frame aligned to the film index.
    """

    user_ids: StrArray
    film_ids: StrArray
    matrix: Csr  # (n_users, n_films)
    films: pd.DataFrame

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_films(self) -> int:
        return len(self.film_ids)

    @property
    def n_ratings(self) -> int:
        return int(self.matrix.nnz)

    def user_index(self) -> dict[str, int]:
        """User id -> row index."""
        return {str(user): row for row, user in enumerate(self.user_ids)}

    def with_ratings(self, ratings: pd.DataFrame) -> Csr:
        """A CSR matrix of ``ratings`` over this dataset's id maps (users and films must be known).

        Used by the evaluation to lay out test ratings with the training id maps.
        """
        _check_columns(ratings, Columns.RATINGS[:3], "ratings")
        ratings = _latest_per_pair(ratings)
        rows = _lookup(ratings[Columns.User], self.user_ids, "user")
        cols = _lookup(ratings[Columns.Item], self.film_ids, "film")
        return _csr(rows, cols, ratings[Columns.Rating].to_numpy(dtype=np.float64), self.n_users, self.n_films)


@dataclass(frozen=True)
class Screened:
    """Ratings fit for training, and what was left out: row counts and example values per reason."""

    ratings: pd.DataFrame
    left_out: dict[str, int]
    examples: dict[str, list[str]]

    @property
    def n_left_out(self) -> int:
        return sum(self.left_out.values())


#: Why a rating row is left out of training.
UNKNOWN_FILM = "unknown_film"
BAD_RATING = "bad_rating"
BAD_USER = "bad_user"


def screen_ratings(ratings: pd.DataFrame, film_ids: Iterable[str]) -> Screened:
    """Split ``ratings`` into rows fit for training and rows left out, by reason (first that applies):
    ``bad_user`` (missing or blank user id), ``bad_rating`` (missing, not finite or off the platform
    scale), ``unknown_film`` (a film the catalogue does not hold: deleted, or not through the ETL yet).
    """
    _check_columns(ratings, Columns.RATINGS[:3], "ratings")
    frame = ratings.reset_index(drop=True)
    users = frame[Columns.User]
    values = pd.to_numeric(frame[Columns.Rating], errors="coerce").to_numpy(dtype=np.float64)
    films = frame[Columns.Item].astype(str)
    reasons = (
        (BAD_USER, (users.isna() | (users.astype(str).str.strip() == "")).to_numpy(), users),
        (BAD_RATING, ~np.isfinite(values) | (values < RATING_MIN) | (values > RATING_MAX), frame[Columns.Rating]),
        (UNKNOWN_FILM, (~films.isin(pd.Index(list(film_ids))) | frame[Columns.Item].isna()).to_numpy(), films),
    )
    dropped = np.zeros(len(frame), dtype=bool)
    left_out: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for reason, bad, shown in reasons:
        hit = bad & ~dropped
        if hit.any():
            left_out[reason] = int(hit.sum())
            examples[reason] = [str(v) for v in pd.unique(shown[hit])[:EXAMPLES_IN_ERROR]]
            dropped |= hit
    kept = frame[~dropped].reset_index(drop=True)
    if Columns.Rating in kept.columns:
        kept[Columns.Rating] = kept[Columns.Rating].astype(np.float64)
    return Screened(kept, left_out, examples)


def build_dataset(ratings: pd.DataFrame, films: pd.DataFrame) -> Dataset:
    """Lay out ``ratings`` (``Columns.RATINGS``) over the catalogue ``films`` (``Columns.FILMS``).

    Users are sorted by id; films keep the catalogue's order. When a pair is rated several times
    the latest rating (by timestamp, then by row order) wins. Raises ValueError when a rating names
    a film missing from the catalogue, when a rating is off the platform scale, or when the
    catalogue repeats a film id (``screen_ratings`` leaves such rows out first).
    """
    _check_columns(films, (Columns.Item,), "films")
    _check_columns(ratings, Columns.RATINGS[:3], "ratings")
    films = films.reset_index(drop=True)
    film_ids = films[Columns.Item].astype(str).to_numpy(dtype=np.str_)
    duplicated = pd.Index(film_ids).duplicated()
    if duplicated.any():
        examples = sorted(set(film_ids[duplicated]))[:EXAMPLES_IN_ERROR]
        raise ValueError(f"films frame repeats {int(duplicated.sum())} film id(s), e.g. {examples}")

    values = ratings[Columns.Rating].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < RATING_MIN) | (values > RATING_MAX)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} rating(s) outside the scale {RATING_MIN:g}..{RATING_MAX:g} "
            f"or not a number, e.g. {values[bad][:EXAMPLES_IN_ERROR].tolist()}"
        )
    rated_films = ratings[Columns.Item].astype(str)
    unknown = ~rated_films.isin(pd.Index(film_ids))
    if unknown.any():
        examples = sorted(set(rated_films[unknown]))[:EXAMPLES_IN_ERROR]
        raise ValueError(
            f"{int(unknown.sum())} rating(s) name {rated_films[unknown].nunique()} film id(s) missing "
            f"from the films frame, e.g. {examples}"
        )

    ratings = _latest_per_pair(ratings)
    user_ids = np.asarray(sorted(ratings[Columns.User].astype(str).unique()), dtype=np.str_)
    rows = _lookup(ratings[Columns.User], user_ids, "user")
    cols = _lookup(ratings[Columns.Item], film_ids, "film")
    matrix = _csr(rows, cols, ratings[Columns.Rating].to_numpy(dtype=np.float64), len(user_ids), len(film_ids))
    return Dataset(user_ids=user_ids, film_ids=film_ids, matrix=matrix, films=films)


def _check_columns(frame: pd.DataFrame, required: tuple[str, ...], name: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {missing}; it has {list(frame.columns)}")


def _latest_per_pair(ratings: pd.DataFrame) -> pd.DataFrame:
    frame = ratings.reset_index(drop=True)
    if Columns.Timestamp in frame.columns:
        frame = frame.sort_values(Columns.Timestamp, kind="stable")
    return frame.drop_duplicates([Columns.User, Columns.Item], keep="last")


def _lookup(values: pd.Series, ids: StrArray, what: str) -> IndexArray:
    """Positions of ``values`` in ``ids`` (ids need not be sorted); ValueError for unknown ones."""
    positions = pd.Index(ids).get_indexer(pd.Index(values.astype(str)))
    if (positions < 0).any():
        unknown = sorted(set(values.astype(str)[positions < 0]))[:EXAMPLES_IN_ERROR]
        raise ValueError(f"unknown {what} id(s), e.g. {unknown}")
    return positions.astype(np.int64)


def _csr(rows: IndexArray, cols: IndexArray, values: npt.NDArray[np.float64], n_rows: int, n_cols: int) -> Csr:
    matrix = sp.csr_matrix((values.astype(MATRIX_DTYPE), (rows, cols)), shape=(n_rows, n_cols), dtype=MATRIX_DTYPE)
    matrix.sort_indices()
    return matrix
