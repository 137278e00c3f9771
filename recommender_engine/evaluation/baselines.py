"""Baselines scored and ranked exactly like the engine's model (``fit`` then ``score_block``).

- popularity: how many training users rated the film (log scale; same order);
- IMDb-top: the IMDb Bayesian weighted rating (``recsys_common.bayes``), the cold-start list;
- plain LightFM: WARP on the interactions alone (no item features);
- implicit ALS (``implicit.cpu.als``) on the binary matrix;
- EASE (λ = 500) on the binary matrix;
- for the item-cold-start protocol (``cold_start``), which ranks films nobody rated: popularity in
  genre (non-personal), genre affinity (personal) and seeded random scores.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from recommender_engine.lists import genre_groups
from recommender_engine.model.dataset import Csr, Dataset
from recommender_engine.model.ease import EASE_DEFAULT_LAMBDA, ease_weights
from recommender_engine.model.hybrid import ModelConfig, NotFittedError, rating_counts
from recsys_common.bayes import catalogue_prior, weighted_rating
from recsys_common.columns import Columns

FloatArray = npt.NDArray[np.float32]
SCORE_DTYPE = np.float32

#: Plain LightFM: identity features only, LightFM's usual WARP settings, no blend.
PLAIN_LIGHTFM_CONFIG = ModelConfig(
    genre_features=False,
    imdb_rating_features=False,
    imdb_votes_features=False,
    rt_rating_features=False,
    decade_features=False,
    max_sampled=10,
    blend_weight=0.0,
)
#: ALS settings chosen on the validation split of MovieLens-100K (16 factors beat 32, 64, 128).
ALS_FACTORS = 16
ALS_REGULARISATION = 1.0
ALS_ALPHA = 5.0
ALS_ITERATIONS = 15


class Recommender(Protocol):
    """What the evaluation needs of a model."""

    def fit(self, dataset: Dataset) -> Recommender: ...

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray: ...


def _binary(matrix: Csr) -> Csr:
    binary = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    binary.data[:] = 1.0
    return binary


class _ItemScoreModel:
    """A model whose score is the same row vector for every user."""

    def __init__(self) -> None:
        self._scores: FloatArray | None = None

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._scores is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted")
        return np.tile(self._scores, (len(user_index), 1))


class PopularityModel(_ItemScoreModel):
    """Scores each film by the number of training users who rated it."""

    def fit(self, dataset: Dataset) -> PopularityModel:
        counts = np.diff(sp.csc_matrix(dataset.matrix).indptr)
        self._scores = np.log1p(counts).astype(SCORE_DTYPE)
        return self


class ImdbTopModel(_ItemScoreModel):
    """Scores each film by its IMDb Bayesian weighted rating; films without one rank last."""

    def fit(self, dataset: Dataset) -> ImdbTopModel:
        films = dataset.films
        if Columns.ImdbRating not in films.columns or Columns.ImdbVotes not in films.columns:
            raise ValueError(f"IMDb-top needs the film columns {Columns.ImdbRating} and {Columns.ImdbVotes}")
        rating = films[Columns.ImdbRating].to_numpy(dtype=np.float64)
        votes = films[Columns.ImdbVotes].to_numpy(dtype=np.float64)
        min_votes, mean = catalogue_prior(rating, votes)
        scores = weighted_rating(rating, votes, min_votes, mean)
        known = np.isfinite(scores)
        floor = float(scores[known].min()) - 1.0 if known.any() else 0.0
        self._scores = np.where(known, scores, floor).astype(SCORE_DTYPE)
        return self


class AlsModel:
    """implicit's ALS on the binary interactions; scores are user factors x item factors."""

    def __init__(self, num_threads: int = 2, random_state: int = 42) -> None:
        self.num_threads = num_threads
        self.random_state = random_state
        self._users: FloatArray | None = None
        self._items: FloatArray | None = None

    def config(self) -> dict[str, Any]:
        return {
            "factors": ALS_FACTORS,
            "regularization": ALS_REGULARISATION,
            "alpha": ALS_ALPHA,
            "iterations": ALS_ITERATIONS,
        }

    def fit(self, dataset: Dataset) -> AlsModel:
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; BLAS threads only contend
            model = AlternatingLeastSquares(
                factors=ALS_FACTORS,
                regularization=ALS_REGULARISATION,
                alpha=ALS_ALPHA,
                iterations=ALS_ITERATIONS,
                random_state=self.random_state,
                num_threads=self.num_threads,
            )
            model.fit(_binary(dataset.matrix), show_progress=False)
        self._users = np.asarray(model.user_factors, dtype=SCORE_DTYPE)
        self._items = np.asarray(model.item_factors, dtype=SCORE_DTYPE)
        return self

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._users is None or self._items is None:
            raise NotFittedError("AlsModel is not fitted")
        return np.asarray(self._users[np.asarray(user_index)] @ self._items.T, dtype=SCORE_DTYPE)


class EaseModel:
    """EASE on the binary interactions: scores are the user's history x the item-item weights."""

    def __init__(self, regularisation: float = EASE_DEFAULT_LAMBDA) -> None:
        self.regularisation = regularisation
        self._history: Any = None
        self._weights: FloatArray | None = None

    def config(self) -> dict[str, Any]:
        return {"lambda": self.regularisation}

    def fit(self, dataset: Dataset) -> EaseModel:
        self._history = _binary(dataset.matrix)
        self._weights = ease_weights(self._history, self.regularisation)
        return self

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._weights is None:
            raise NotFittedError("EaseModel is not fitted")
        return np.asarray(self._history[np.asarray(user_index)] @ self._weights, dtype=SCORE_DTYPE)


def _genre_membership(dataset: Dataset) -> Csr:
    """(n_films, n_genres) float32 CSR, 1 where the film has the genre (``lists.genre_groups``)."""
    _, groups = genre_groups(dataset.films)
    rows = np.concatenate([members for members in groups]) if groups else np.zeros(0, dtype=np.int32)
    cols = np.repeat(np.arange(len(groups)), [len(members) for members in groups])
    return sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(dataset.n_films, len(groups)), dtype=np.float32
    )


def genre_popularity(dataset: Dataset) -> npt.NDArray[np.float64]:
    """Popularity in genre of every film: the mean, over the film's genres ``g``, of ``N_g``, the
    number of training ratings of the films of genre ``g`` (a film of several genres counts in
    each); 0 for a film without a genre. A film's own ratings count too, so an unrated film's value
    comes from the other films of its genres only."""
    membership = _genre_membership(dataset)
    per_genre = membership.T @ rating_counts(dataset.matrix).astype(np.float64)  # N_g
    n_genres = np.asarray(membership.sum(axis=1), dtype=np.float64).ravel()
    total = np.asarray(membership @ per_genre, dtype=np.float64)
    return np.divide(total, n_genres, out=np.zeros_like(total), where=n_genres > 0)


class GenrePopularityModel(_ItemScoreModel):
    """Scores each film by its popularity in genre (``genre_popularity``); the same for every user."""

    def fit(self, dataset: Dataset) -> GenrePopularityModel:
        self._scores = genre_popularity(dataset).astype(SCORE_DTYPE)
        return self


class GenreAffinityModel:
    """Ranks films by the share of the user's training ratings that fall in the film's genres,
    then by popularity in genre.

    The share of user ``u`` for film ``f`` is the number of ``u``'s training films that have at least
    one of ``f``'s genres, divided by the number of ``u``'s training films (0 for a film without a
    genre). Scores are ranks made into floats (``n_films`` for the best film of the row down to 1),
    so that the order is exactly (share, popularity in genre, lower column index) whatever the
    magnitudes. Films are grouped by their set of genres, so the cost grows with the number of
    distinct genre sets, not with n_films^2.
    """

    def __init__(self) -> None:
        self._history: Any = None
        self._film_set: Any = None
        self._overlap: Any = None
        self._set_of_film: npt.NDArray[np.int64] | None = None
        self._popularity_rank: npt.NDArray[np.int64] | None = None

    def fit(self, dataset: Dataset) -> GenreAffinityModel:
        membership = _genre_membership(dataset)
        _, first, set_of_film = np.unique(membership.toarray() > 0, axis=0, return_index=True, return_inverse=True)
        set_of_film = np.asarray(set_of_film, dtype=np.int64).ravel()
        set_genres = membership[first]  # (n_sets, n_genres)
        overlap = sp.csr_matrix(set_genres @ set_genres.T)
        overlap.data[:] = 1.0  # 1 where two genre sets share a genre
        self._history = _binary(dataset.matrix)
        self._film_set = sp.csr_matrix(
            (np.ones(dataset.n_films, dtype=np.float32), (np.arange(dataset.n_films), set_of_film)),
            shape=(dataset.n_films, len(first)),
        )
        self._overlap = overlap
        self._set_of_film = set_of_film
        _, popularity_rank = np.unique(genre_popularity(dataset), return_inverse=True)
        self._popularity_rank = np.asarray(popularity_rank, dtype=np.int64).ravel()
        return self

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._set_of_film is None or self._popularity_rank is None:
            raise NotFittedError("GenreAffinityModel is not fitted")
        history = self._history[np.asarray(user_index)]
        per_set = history @ self._film_set  # (n, sets): the user's films of each genre set
        shared = np.asarray((per_set @ self._overlap).todense())[:, self._set_of_film]  # (n, films)
        popularity = np.broadcast_to(self._popularity_rank, shared.shape)
        order = np.lexsort((-popularity, -shared), axis=-1)  # best first; stable, so lower index first
        n_films = shared.shape[1]
        scores = np.empty(shared.shape, dtype=SCORE_DTYPE)
        np.put_along_axis(scores, order, np.arange(n_films, 0, -1, dtype=SCORE_DTYPE)[None, :], axis=1)
        return scores


class RandomModel:
    """Uniform random scores in [0, 1), drawn at fit for every (user, film) from a seeded generator."""

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed
        self._scores: FloatArray | None = None

    def fit(self, dataset: Dataset) -> RandomModel:
        self._scores = np.random.default_rng(self.seed).random((dataset.n_users, dataset.n_films), dtype=SCORE_DTYPE)
        return self

    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        if self._scores is None:
            raise NotFittedError("RandomModel is not fitted")
        return self._scores[np.asarray(user_index)]
