"""Item features of the hybrid model: identity, genres, IMDb and Rotten Tomatoes rating buckets,
IMDb vote buckets, decade and directors.

Every side feature of a film has weight ``side_weight``; its identity feature has a weight that grows
with the film's number of training ratings ``n``: ``n / (n + identity_shrinkage)``, or, when
``identity_shrinkage`` is 0, 1 for a rated film and 0 for an unrated one. A film nobody rated has an
identity embedding that was never trained (see ``hybrid``), so it is represented by its side features
alone, and a film with few ratings leans on them. A film without side features has nothing to lean
on: its identity weighs 1 whatever its count, as in a purely collaborative model.

Each row is divided by the sum it has with identity weight 1 (``1 + side_weight`` x the film's number
of side features; without the identity feature, by the sum of its side weights): rows of rated films
sum to 1 when ``identity_shrinkage`` is 0, as LightFM's own ``Dataset`` normalises them, and a side
feature weighs the same in every film's row, rated or not, so an unrated film's representation is
exactly the side-feature part of a rated film's, the part that training fitted. (Normalising an
unrated film's row to sum 1 instead inflates its side features by ``(1 + s) / s``; on the
item-cold-start protocol of MovieLens-100K it ranked the held-out films worse.) Without rating
counts every identity weighs 1. A film without any feature keeps an empty row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from recommender_engine.model.dataset import Csr
from recsys_common.columns import Columns
from recsys_common.ids import person_id_for

#: IMDb ratings (1..10) are bucketed by this width.
IMDB_BUCKET_WIDTH = 1.0
#: Rotten Tomatoes Tomatometer (0..100) is bucketed by this width.
RT_BUCKET_WIDTH = 20.0
#: IMDb votes are bucketed by powers of this base.
VOTES_LOG_BASE = 10.0
YEARS_PER_DECADE = 10
FEATURE_DTYPE = np.float32
#: Names of identity features: this prefix and the film id.
IDENTITY_PREFIX = "film:"


@dataclass(frozen=True)
class FeatureFlags:
    """Which feature groups to build."""

    identity: bool = True
    genres: bool = True
    imdb_rating: bool = False
    imdb_votes: bool = False
    rt_rating: bool = False
    decade: bool = False
    side_weight: float = 1.0
    directors: bool = False
    #: ``k`` of the identity weight ``n / (n + k)`` of a film with ``n`` training ratings.
    identity_shrinkage: float = 0.0
    #: Films with fewer training ratings are scored through their side features alone.
    identity_min_ratings: int = 1


@dataclass(frozen=True)
class ItemFeatures:
    """``matrix`` is (n_films, n_features) float32 CSR; ``names[k]`` names feature column ``k``."""

    matrix: Csr
    names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return len(self.names)


def identity_weights(rating_counts: npt.ArrayLike, shrinkage: float, min_ratings: int = 1) -> npt.NDArray[np.float64]:
    """Identity-feature weight of films with ``rating_counts`` training ratings: 0 below
    ``min_ratings`` (too few ratings to train an identity on), else ``n / (n + k)`` for
    ``k = shrinkage`` > 0 and 1 for ``k = 0``."""
    if shrinkage < 0:
        raise ValueError(f"identity shrinkage must not be negative, got {shrinkage}")
    if min_ratings < 1:
        raise ValueError(f"identity min ratings must be at least 1, got {min_ratings}")
    counts = np.asarray(rating_counts, dtype=np.float64)
    if (counts < 0).any():
        raise ValueError("rating counts must not be negative")
    supported = counts >= min_ratings
    if shrinkage == 0:
        return supported.astype(np.float64)
    return np.where(supported, counts / (counts + shrinkage), 0.0)


def build_item_features(
    films: pd.DataFrame, flags: FeatureFlags, rating_counts: npt.ArrayLike | None = None
) -> ItemFeatures:
    """Build the item feature matrix of ``films`` (aligned to its row order).

    ``rating_counts[j]`` is the number of training ratings of film ``j`` (the training matrix's
    column nnz); it sets the identity weights (``identity_weights``). ``None`` weighs every
    film's identity 1.
    """
    n_films = len(films)
    if rating_counts is None:
        identity = np.ones(n_films, dtype=np.float64)
    else:
        identity = identity_weights(rating_counts, flags.identity_shrinkage, flags.identity_min_ratings)
        if identity.shape != (n_films,):
            raise ValueError(f"{identity.size} rating counts for {n_films} films")
    side: list[list[str]] = [[] for _ in range(n_films)]
    groups: list[tuple[bool, str, Callable[[Any], str | None]]] = [
        (flags.imdb_rating, Columns.ImdbRating, _bucket("imdb", IMDB_BUCKET_WIDTH)),
        (flags.imdb_votes, Columns.ImdbVotes, _log_bucket("votes", VOTES_LOG_BASE)),
        (flags.rt_rating, Columns.RtRating, _bucket("rt", RT_BUCKET_WIDTH)),
        (flags.decade, Columns.Year, _bucket("decade", YEARS_PER_DECADE)),
    ]
    if flags.genres and Columns.Genres in films.columns:
        for row, genres in enumerate(films[Columns.Genres]):
            side[row].extend(f"genre:{genre}" for genre in _as_genres(genres))
    if flags.directors:
        for row, director_ids in enumerate(_director_ids(films)):
            side[row].extend(f"director:{person}" for person in director_ids)
    for enabled, column, name_of in groups:
        if enabled and column in films.columns:
            for row, value in enumerate(films[column]):
                name = name_of(value)
                if name is not None:
                    side[row].append(name)

    side_names = sorted({name for film_names in side for name in film_names})
    side_index = {name: n_films * flags.identity + k for k, name in enumerate(side_names)}
    rows: list[int] = []
    cols: list[int] = []
    weights: list[float] = []
    divisors = np.zeros(n_films, dtype=np.float64)
    for row, film_names in enumerate(side):
        divisors[row] = flags.identity + flags.side_weight * len(set(film_names))
        weight = float(identity[row]) if film_names else 1.0
        if flags.identity and weight > 0:
            rows.append(row)
            cols.append(row)
            weights.append(weight)
        for name in sorted(set(film_names)):
            rows.append(row)
            cols.append(side_index[name])
            weights.append(flags.side_weight)
    identity_names = tuple(f"{IDENTITY_PREFIX}{film}" for film in films[Columns.Item]) if flags.identity else ()
    names = (*identity_names, *side_names)
    matrix = sp.csr_matrix(
        (np.asarray(weights, dtype=np.float64), (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))),
        shape=(n_films, len(names)),
    )
    return ItemFeatures(matrix=_divide_rows(matrix, divisors).astype(FEATURE_DTYPE), names=names)


def has_side_features(features: ItemFeatures) -> npt.NDArray[np.bool_]:
    """Whether each film's row holds a feature other than its identity."""
    side = np.asarray([not name.startswith(IDENTITY_PREFIX) for name in features.names], dtype=bool)
    matrix = sp.csr_matrix(features.matrix)
    present = np.zeros(matrix.shape[0], dtype=bool)
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    present[rows[side[matrix.indices] & (matrix.data != 0)]] = True
    return present


def _divide_rows(matrix: sp.csr_matrix[np.float64], divisors: npt.NDArray[np.float64]) -> sp.csr_matrix[np.float64]:
    scale = np.divide(1.0, divisors, out=np.zeros_like(divisors), where=divisors > 0)
    return sp.csr_matrix(sp.diags(scale) @ matrix)


def _as_genres(value: Any) -> Iterable[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.split("|") if part)
    return tuple(str(part) for part in value)


def _director_ids(films: pd.DataFrame) -> list[tuple[str, ...]]:
    """Directors' person ids per film: the catalogue frame's ``director_ids``, or ids derived from the
    names of a seed frame's ``directors``; none when the frame has neither."""
    if Columns.DirectorIds in films.columns:
        return [tuple(ids) for ids in films[Columns.DirectorIds]]
    if Columns.Directors in films.columns:
        return [tuple(person_id_for(name) for name in _as_genres(names)) for names in films[Columns.Directors]]
    return [()] * len(films)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _bucket(prefix: str, width: float) -> Callable[[Any], str | None]:
    def name_of(value: Any) -> str | None:
        number = _number(value)
        if number is None:
            return None
        return f"{prefix}:{math.floor(number / width) * width:g}"

    return name_of


def _log_bucket(prefix: str, base: float) -> Callable[[Any], str | None]:
    def name_of(value: Any) -> str | None:
        number = _number(value)
        if number is None or number < 1:
            return None
        return f"{prefix}:{base:g}^{math.floor(math.log(number, base))}"

    return name_of
