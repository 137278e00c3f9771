"""The engine's model: LightFM (WARP) with item features, blended with EASE.

Scores are block matrix products: user embeddings x item representations (item features x feature
embeddings) plus biases. When the blend is on, each user's LightFM scores and EASE scores
(the user's history x EASE weights; the history holds rating / RATING_MAX when
``ease_rating_weights``, else 1 per rating) are standardised per user over the catalogue and
summed, EASE with weight ``blend_weight``.

EASE needs a dense m x m inverse (O(m^3) time, 4 m^2 bytes), so it is fitted on the
``ease_max_films`` (5,000) most-rated films only (``HybridParams.ease_films``; all films when the
catalogue is smaller, as MovieLens-100K's 1,680): their EASE z-scores are taken over those columns,
and a film outside them gets no EASE score. EASE also scores 0 for a film nobody rated (its weight
column is 0): it knows nothing of the film rather than rating it average. Both kinds of film have
their EASE z-score replaced by their LightFM z-score, which keeps them on the scale of the covered
films in the blended ranking: neither ranked below nearly every film EASE favours (as an EASE
score of 0 would) nor lifted above the films LightFM prefers.

A film nobody rated yet is scored through its side features (``features``: its identity weight is
0), and it is left out of LightFM's fit: it could only be a WARP negative, so its side features
would be pushed down for every user (burying every new film in the mixed ranking) without
teaching anything about the rated films. Only the other films' rows of the item-feature matrix are
fitted (an unrated film without side features keeps its identity feature and its place in the fit,
as in a purely collaborative model); the whole matrix (the same one) scores every film.

Fitting with ``num_threads`` > 1 is not bit-for-bit reproducible (LightFM updates in parallel
without locks); a fixed ``random_state`` makes single-threaded fits reproducible.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from lightfm import LightFM
from pydantic import BaseModel, ConfigDict, Field
from threadpoolctl import ThreadpoolController

from recommender_engine.model.dataset import Csr, Dataset
from recommender_engine.model.ease import EASE_MAX_FILMS, ease_history, ease_weights, scaled_lambda
from recommender_engine.model.features import FeatureFlags, ItemFeatures, build_item_features, has_side_features
from recsys_common.domain import LIKED_RATING, RATING_MAX

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
SCORE_DTYPE = np.float32
#: Guards the per-user standardisation against a constant score row.
STD_FLOOR = 1e-6
#: EASE λ of the blend (on the binary scale; see ``ease.scaled_lambda``), chosen on validation.
BLEND_EASE_LAMBDA = 800.0
#: EASE is fitted on this many most-rated films (a dense m x m inverse); see ``ModelConfig``.
DEFAULT_EASE_MAX_FILMS = 5_000
#: Weight of each side feature against the identity feature's 1 (see ``ModelConfig``).
DEFAULT_SIDE_FEATURE_WEIGHT = 0.3
#: Films with fewer training ratings are scored through their side features (see ``ModelConfig``).
DEFAULT_IDENTITY_MIN_RATINGS = 5
#: Fold-in (``HybridModel.fold_in``): mini-batch BPR steps, their size, step size and L2 weight.
#: Chosen on MovieLens-100K users held out of training (``evaluation.fold_in``).
FOLD_IN_EPOCHS = 30
FOLD_IN_BATCH = 64
FOLD_IN_LEARNING_RATE = 0.5
FOLD_IN_REGULARISATION = 0.01
#: Margins are clipped to this before ``exp`` (no overflow; the gradient is 0 or 1 beyond it anyway).
MAX_EXP = 30.0
#: ``HybridModel.reasons`` compares at most this many (user, recommended film, rated film) triples
#: at once (bounds its memory: 4 bytes each, twice).
REASON_CHUNK_PAIRS = 2_000_000
#: "No film" in the reasons' index arrays.
NO_FILM = -1


class ModelConfig(BaseModel):
    """Hyper-parameters of the hybrid model.

    The defaults were chosen on a validation split carved out of the MovieLens-100K training part
    (see ``recommender_engine.evaluation``): WARP, 64 components, 30 epochs, 30 negative samples,
    EASE (λ = 800, fitted on rating-weighted histories) blended with weight 0.3. Rating-valued
    sample weights of LightFM did not win and are off; RP3beta, item-kNN, EDLAE, user features,
    seed averaging and rank blending did not beat the blend either.

    Item features: identity, genres, IMDb rating buckets, IMDb vote buckets and decade, the side
    features at weight 0.3, the identity at weight 1 for a rated film and 0 for an unrated one
    (``identity_shrinkage`` 0). They were chosen on the item-cold-start protocol
    (``evaluation.cold_start``) under the constraint that the warm protocol (``evaluation.runner``)
    does not get worse: on split seeds 42, 1 and 2 the held-out films' P@10 rises from 0.18
    (identity + genres at weight 1) to 0.31 while warm P@10 and nDCG@10 stay within run-to-run
    noise. Side weights 0.5 and 1 cost warm nDCG@10, 0.1 cost warm P@10; RT rating buckets added
    nothing; shrinkage k = 1 changed nothing measurable and k = 3 or 10 cost warm nDCG@10 (about
    0.003) without helping unrated films.

    A film with fewer than ``identity_min_ratings`` (5) training ratings is treated like an unrated
    one (identity weight 0, left out of LightFM's fit, EASE z-score replaced): an identity trained
    on a handful of ratings is buried by WARP's negative updates. On the same protocol with each
    held-out film keeping its first 1, 2 or 3 ratings in training, the threshold 1 ranks them at
    P@10 0.128 / 0.121 / 0.062 (seed 42) and puts none of them in any top-100, the threshold 5 at
    0.286 / 0.283 / 0.271 with 7.5 % of each top-100; warm P@10 and nDCG@10 over split seeds 42, 1,
    2, 3, 4 are equal within noise (0.4290 / 0.4937 for 1, 0.4290 / 0.4932 for 5).

    EASE is fitted on the ``ease_max_films`` (5,000) most-rated films (at most ``EASE_MAX_FILMS``):
    MovieLens-100K's 1,680 films are all covered, so its scores are those of dense EASE. Capped
    below the catalogue on the same split (seed 42, single-threaded fits), the blend keeps nearly
    all of dense EASE's gain over LightFM alone (P@10 / nDCG@10 0.4097 / 0.4652): every film
    0.4278 / 0.4935, the 1,500 most-rated 0.4286 / 0.4938, 1,200 0.4276 / 0.4932 (99 % of the gain),
    1,000 0.4266 / 0.4923 (93 % / 96 %); giving the uncovered films the EASE z-score 0 instead of
    their LightFM one scored the same at 1,000.

    Director features (``director_features``; the seed knows a director for 367 of 1,680 films)
    are off: over split seeds 42, 1, 2 they left warm P@10 / nDCG@10 unchanged (0.4284 / 0.4941 on,
    0.4288 / 0.4931 off) and cost the item-cold-start protocol (0.2928 / 0.3858 on, 0.3009 / 0.3986
    off).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    loss: Literal["warp", "bpr", "logistic", "warp-kos"] = "warp"
    no_components: int = Field(default=64, ge=1)
    epochs: int = Field(default=30, ge=1)
    learning_rate: float = Field(default=0.05, gt=0)
    learning_schedule: Literal["adagrad", "adadelta"] = "adagrad"
    item_alpha: float = Field(default=0.0, ge=0)
    user_alpha: float = Field(default=0.0, ge=0)
    max_sampled: int = Field(default=30, ge=1)
    identity_features: bool = True
    genre_features: bool = True
    imdb_rating_features: bool = True
    imdb_votes_features: bool = True
    rt_rating_features: bool = False
    decade_features: bool = True
    director_features: bool = False
    side_feature_weight: float = Field(default=DEFAULT_SIDE_FEATURE_WEIGHT, gt=0)
    identity_shrinkage: float = Field(default=0.0, ge=0)
    identity_min_ratings: int = Field(default=DEFAULT_IDENTITY_MIN_RATINGS, ge=1)
    rating_weights: bool = False
    blend_weight: float = Field(default=0.3, ge=0)
    ease_lambda: float = Field(default=BLEND_EASE_LAMBDA, gt=0)
    ease_rating_weights: bool = True
    ease_max_films: int = Field(default=DEFAULT_EASE_MAX_FILMS, ge=1, le=EASE_MAX_FILMS)
    num_threads: int = Field(default=2, ge=1)
    random_state: int = 42

    def feature_flags(self) -> FeatureFlags:
        return FeatureFlags(
            identity=self.identity_features,
            genres=self.genre_features,
            imdb_rating=self.imdb_rating_features,
            imdb_votes=self.imdb_votes_features,
            rt_rating=self.rt_rating_features,
            decade=self.decade_features,
            directors=self.director_features,
            side_weight=self.side_feature_weight,
            identity_shrinkage=self.identity_shrinkage,
            identity_min_ratings=self.identity_min_ratings,
        )


class NotFittedError(RuntimeError):
    """The model was asked to score before it was fitted or loaded."""


@dataclass(frozen=True)
class HybridParams:
    """Everything the model needs to score; what the artefact stores."""

    user_embeddings: FloatArray  # (n_users, d)
    user_biases: FloatArray  # (n_users,)
    feature_embeddings: FloatArray  # (n_features, d)
    feature_biases: FloatArray  # (n_features,)
    item_features: ItemFeatures  # (n_films, n_features)
    ease: FloatArray | None = None  # (m, m) when blending: EASE weights of the films ``ease_films``
    history: Csr | None = None  # (n_users, n_films) float32 CSR that EASE scores (``ease.ease_history``) when blending
    ease_films: IntArray | None = None  # (m,) ascending film indices EASE covers; None: every film

    @property
    def ease_columns(self) -> IntArray | None:
        """The films EASE scores when it covers only some of them, else None."""
        if self.ease_films is None or self.ease_films.size == self.n_films:
            return None
        return self.ease_films

    @property
    def n_users(self) -> int:
        return int(self.user_embeddings.shape[0])

    @property
    def n_films(self) -> int:
        return int(self.item_features.matrix.shape[0])

    @property
    def blended(self) -> bool:
        return self.ease is not None

    def check(self) -> None:
        """Raise ValueError when the arrays do not fit together."""
        n_users, dim = self.user_embeddings.shape
        n_films, n_features = self.item_features.matrix.shape
        expected = {
            "user_biases": (self.user_biases.shape, (n_users,)),
            "feature_embeddings": (self.feature_embeddings.shape, (n_features, dim)),
            "feature_biases": (self.feature_biases.shape, (n_features,)),
            "feature names": ((len(self.item_features.names),), (n_features,)),
        }
        if (self.ease is None) != (self.history is None):
            raise ValueError("EASE weights and the users' history come together or not at all")
        if self.ease_films is not None:
            films = self.ease_films
            if self.ease is None:
                raise ValueError("EASE films without EASE weights")
            if films.ndim != 1 or (
                films.size and (films[0] < 0 or films[-1] >= n_films or np.any(np.diff(films) <= 0))
            ):
                raise ValueError(f"EASE films must be ascending film indices in 0..{n_films - 1}")
        if self.ease is not None and self.history is not None:
            covered = n_films if self.ease_films is None else int(self.ease_films.size)
            expected["ease"] = (self.ease.shape, (covered, covered))
            expected["history"] = (self.history.shape, (n_users, n_films))
        for name, (shape, wanted) in expected.items():
            if tuple(shape) != wanted:
                raise ValueError(f"{name} has shape {tuple(shape)}, expected {wanted}")


@dataclass(frozen=True)
class UserRows:
    """The user side of some users' scores (``HybridModel.user_rows``, ``HybridModel.for_users``)."""

    embeddings: FloatArray  # (n, d)
    biases: FloatArray  # (n,)
    history: Csr | None  # (n, n_films) when blending


#: Called after each training epoch with (epochs done, epochs in all).
EpochCallback = Callable[[int, int], None]


def fit_epochs(
    lightfm: LightFM,
    interactions: sp.coo_matrix,
    *,
    item_features: sp.csr_matrix,
    sample_weight: sp.coo_matrix | None,
    epochs: int,
    num_threads: int,
    on_epoch: EpochCallback | None = None,
) -> None:
    """``lightfm.fit(..., epochs=epochs)`` one epoch at a time, calling ``on_epoch`` after each. On a
    new ``LightFM`` this is what ``fit`` itself does (reset, then ``fit_partial`` runs the epochs on
    the same random state), so the result is the same for the same seed."""
    for done in range(1, epochs + 1):
        lightfm.fit_partial(
            interactions,
            item_features=item_features,
            sample_weight=sample_weight,
            epochs=1,
            num_threads=num_threads,
        )
        if on_epoch is not None:
            on_epoch(done, epochs)


class HybridModel:
    """LightFM hybrid recommender: ``fit`` then ``score_block``; seen films are not masked."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config if config is not None else ModelConfig()
        self._params: HybridParams | None = None
        self._item_vectors: FloatArray | None = None
        self._item_biases: FloatArray | None = None
        self._unrated: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._unit_vectors: FloatArray | None = None
        self._ease_position: IntArray | None = None
        self._ease_flat: FloatArray = np.zeros(0, dtype=SCORE_DTYPE)

    # ----- fitting -----
    def fit(self, dataset: Dataset, on_epoch: EpochCallback | None = None) -> HybridModel:
        """Fit on ``dataset``; raise ValueError when it has no ratings or no films. ``on_epoch`` is
        called after each LightFM epoch with (epochs done, epochs in all), e.g. to show progress."""
        if dataset.n_films == 0:
            raise ValueError("cannot fit the model on an empty catalogue")
        if dataset.n_users == 0 or dataset.n_ratings == 0:
            raise ValueError("cannot fit the model on a dataset without ratings")
        self._fit(dataset, on_epoch)
        return self

    def _fit(self, dataset: Dataset, on_epoch: EpochCallback | None = None) -> None:
        config = self.config
        counts = rating_counts(dataset.matrix)
        features = build_item_features(dataset.films, config.feature_flags(), counts)
        fitted = np.flatnonzero((counts >= config.identity_min_ratings) | ~has_side_features(features))
        ratings = sp.csr_matrix(dataset.matrix)[:, fitted]
        history = sp.csr_matrix(ratings, dtype=np.float32, copy=True)
        history.data[:] = 1.0
        weights = None
        if config.rating_weights:
            weights = sp.coo_matrix(ratings / RATING_MAX, dtype=np.float32)
        lightfm = LightFM(
            no_components=config.no_components,
            loss=config.loss,
            learning_rate=config.learning_rate,
            learning_schedule=config.learning_schedule,
            item_alpha=config.item_alpha,
            user_alpha=config.user_alpha,
            max_sampled=config.max_sampled,
            random_state=np.random.RandomState(config.random_state),
        )
        started = time.perf_counter()
        fit_epochs(
            lightfm,
            history.tocoo(),
            item_features=sp.csr_matrix(sp.csr_matrix(features.matrix)[fitted], dtype=np.float32),
            sample_weight=weights,
            epochs=config.epochs,
            num_threads=config.num_threads,
            on_epoch=on_epoch,
        )
        logger.info("LightFM fitted in %.1f s", time.perf_counter() - started)
        ease = ease_input = ease_films = None
        if config.blend_weight > 0:
            ease, ease_input, ease_films = fit_ease(dataset.matrix, config)
        self.set_params(
            HybridParams(
                user_embeddings=np.asarray(lightfm.user_embeddings, dtype=SCORE_DTYPE),
                user_biases=np.asarray(lightfm.user_biases, dtype=SCORE_DTYPE),
                feature_embeddings=np.asarray(lightfm.item_embeddings, dtype=SCORE_DTYPE),
                feature_biases=np.asarray(lightfm.item_biases, dtype=SCORE_DTYPE),
                item_features=features,
                ease=ease,
                history=ease_input,
                ease_films=ease_films,
            )
        )

    # ----- state -----
    @property
    def params(self) -> HybridParams:
        if self._params is None:
            raise NotFittedError("the model is not fitted")
        return self._params

    @property
    def n_users(self) -> int:
        return self.params.n_users

    @property
    def n_films(self) -> int:
        return self.params.n_films

    def set_params(self, params: HybridParams) -> None:
        """Install fitted parameters (used by ``_fit`` and by the artefact loader)."""
        params.check()
        features = params.item_features.matrix
        self._item_vectors = np.ascontiguousarray(features @ params.feature_embeddings, dtype=SCORE_DTYPE)
        self._item_biases = np.asarray(features @ params.feature_biases, dtype=SCORE_DTYPE).ravel()
        unrated = np.zeros(0, dtype=np.int64)
        if params.history is not None:
            unrated = np.flatnonzero(rating_counts(params.history) < self.config.identity_min_ratings).astype(np.int64)
        self._unrated = unrated
        norms = np.linalg.norm(self._item_vectors, axis=1, keepdims=True)
        self._unit_vectors = np.ascontiguousarray(self._item_vectors / np.maximum(norms, STD_FLOOR), dtype=SCORE_DTYPE)
        self._ease_position = None
        if params.ease is not None:  # film index -> row/column of the EASE weights; -1 outside EASE or unrated
            position = np.full(params.n_films, NO_FILM, dtype=np.int64)
            covered = np.arange(params.n_films) if params.ease_films is None else params.ease_films
            position[covered] = np.arange(covered.size)
            position[unrated] = NO_FILM
            self._ease_position = position
            self._ease_flat = np.ascontiguousarray(params.ease).reshape(-1)  # a view unless a copy is needed
        self._params = params

    def user_rows(self, users: npt.NDArray[np.integer]) -> UserRows:
        """What scoring ``users`` takes from the user side (their embeddings, biases, EASE history)."""
        params = self.params
        history = None if params.history is None else params.history[users]
        return UserRows(params.user_embeddings[users], params.user_biases[users], history)

    def for_users(self, rows: UserRows) -> HybridModel:
        """A model scoring only the users of ``rows`` (row i is user i), sharing this model's item side
        and everything derived from the whole training set: how a scoring worker that holds the item
        side alone scores a block of users it was sent."""
        twin = copy.copy(self)
        twin._params = replace(
            self.params, user_embeddings=rows.embeddings, user_biases=rows.biases, history=rows.history
        )
        return twin

    # ----- scoring -----
    def score_block(self, user_index: npt.NDArray[np.integer]) -> FloatArray:
        """Scores of shape (len(user_index), n_films), higher is better; seen films are not masked."""
        params = self.params
        assert self._item_vectors is not None and self._item_biases is not None
        users = np.asarray(user_index, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= params.n_users):
            raise IndexError(f"user index out of range 0..{params.n_users - 1}")
        scores = params.user_embeddings[users] @ self._item_vectors.T
        scores += self._item_biases[None, :]
        scores += params.user_biases[users][:, None]
        return self._blend(scores, None if params.history is None else params.history[users])

    def fold_in(self, ratings: Csr, seed: int = 0) -> FloatArray:
        """Scores of shape (n, n_films) for users the model was not trained on, from their ratings
        (an (n, n_films) CSR on the platform scale): the online loop's scorer, no retraining.

        Each user's LightFM vector is fitted to the films they rated by ``FOLD_IN_EPOCHS`` mini-batch
        steps of BPR against the model's fixed item representations (rated film vs a random film),
        started at the mean of the rated films' vectors; the EASE part is their rating history times
        the EASE weights, exactly as for a trained user; the two are blended as ``score_block`` does.
        A user without ratings gets the films' biases. Deterministic for a ``seed``.
        """
        params = self.params
        assert self._item_vectors is not None and self._item_biases is not None
        history = sp.csr_matrix(ratings, dtype=np.float32)
        if history.shape[1] != params.n_films:
            raise ValueError(f"ratings have {history.shape[1]} films, the model {params.n_films}")
        rng = np.random.default_rng(seed)
        items, biases = self._item_vectors, self._item_biases
        vectors = np.zeros((history.shape[0], params.user_embeddings.shape[1]), dtype=SCORE_DTYPE)
        for row in range(history.shape[0]):
            rated = history.indices[history.indptr[row] : history.indptr[row + 1]]
            if rated.size:
                vectors[row] = _bpr_fold_in(items, biases, rated, rng)
        scores = vectors @ items.T
        scores += biases[None, :]
        ease_rows = ease_history(history, self.config.ease_rating_weights) if params.ease is not None else None
        return self._blend(scores, ease_rows)

    def reasons(self, ratings: Csr, recommended: npt.NDArray[np.integer]) -> IntArray:
        """For each user (row of ``ratings``, an (n, n_films) CSR on the platform scale) and each of
        their ``recommended`` films ((n, k) film indices, -1 = none): the rated film most similar to
        it, the "because you rated" of the recommendation, as (n, k) film indices (-1 = none).

        The candidates are the films the user rated at least ``LIKED_RATING`` (every rated film when
        none was). Similarity is the EASE weight B[rated, recommended] when both films are inside the
        EASE part and one such weight is positive, else the cosine of the two films' item
        representations (LightFM's item vectors). Vectorised over chunks of users (one batched
        product and one gather per chunk)."""
        assert self._unit_vectors is not None
        history = sp.csr_matrix(ratings)
        films = np.asarray(recommended, dtype=np.int64)
        n, k = films.shape
        out = np.full((n, k), NO_FILM, dtype=np.int64)
        if n == 0 or k == 0:
            return out
        liked, counts = _liked_lists(history)  # (n, widest) film indices, -1 padded; films per row
        # Chunks of users with similar numbers of liked films, so little of each chunk is padding;
        # users without a rated film (first in that order) get no reason.
        order = np.argsort(counts, kind="stable")
        start = int(np.searchsorted(counts[order], 1))
        # Many small products: one BLAS thread each (threaded BLAS is many times slower on them).
        with _blas().limit(limits=1, user_api="blas"):
            while start < n:
                end = start + 1
                while end < n and (end - start + 1) * k * int(counts[order[end]]) <= REASON_CHUNK_PAIRS:
                    end += 1
                rows = order[start:end]
                chunk = liked[rows, : int(counts[order[end - 1]])]
                chunk = np.where(chunk >= 0, chunk, chunk[:, :1])  # pad with the row's first film
                out[rows] = self._reasons_chunk(chunk, films[rows])
                start = end
        return out

    def _reasons_chunk(self, liked: IntArray, recommended: IntArray) -> IntArray:
        """``reasons`` of a chunk: ``liked`` (n, r), each row padded with its first film (a tie that
        ``argmax`` resolves to the first), and ``recommended`` (n, k), -1 padded."""
        assert self._unit_vectors is not None
        films = np.maximum(recommended, 0)
        best = np.zeros(recommended.shape, dtype=np.int64)  # position in ``liked`` of each reason
        fallback = recommended >= 0
        params = self.params
        if params.ease is not None and self._ease_position is not None:
            rated_at = self._ease_position[liked]  # (n, r)
            films_at = self._ease_position[films]  # (n, k)
            # B[j, i] as one flat gather (about twice as fast as 2-d fancy indexing)
            flat = np.maximum(rated_at, 0)[:, :, None] * params.ease.shape[1] + np.maximum(films_at, 0)[:, None, :]
            weights = np.take(self._ease_flat, flat)  # (n, r, k)
            outside = rated_at < 0
            if outside.any():
                weights[np.broadcast_to(outside[:, :, None], weights.shape)] = -np.inf
            best = np.argmax(weights, axis=1)  # B[j, i] over the rated films j: (n, k)
            top = np.take_along_axis(weights, best[:, None, :], axis=1)[:, 0, :]
            fallback &= (top <= 0) | (films_at < 0)
        rows, slots = np.nonzero(fallback)
        if rows.size:  # cosine of the item representations, for the users where EASE did not answer
            vectors = self._unit_vectors
            users, at = np.unique(rows, return_inverse=True)
            cosine = vectors[liked[users]] @ vectors[films[users]].transpose(0, 2, 1)  # (users, r, k)
            best[rows, slots] = np.argmax(cosine[at, :, slots], axis=1)
        return np.where(recommended >= 0, np.take_along_axis(liked, best, axis=1), NO_FILM)

    def _blend(self, scores: FloatArray, history: Csr | None) -> FloatArray:
        """LightFM scores blended with the EASE scores of ``history`` (rows of ``ease_history``)."""
        params = self.params
        if params.ease is not None and history is not None:
            columns = params.ease_columns
            scores = _standardise(scores)
            if columns is None:
                ease_z = _standardise(np.asarray(history @ params.ease, dtype=SCORE_DTYPE))
            else:  # films outside EASE's columns keep their LightFM z-score
                ease_z = scores.copy()
                covered = sp.csr_matrix(history[:, columns])
                ease_z[:, columns] = _standardise(np.asarray(covered @ params.ease, dtype=SCORE_DTYPE))
            ease_z[:, self._unrated] = scores[:, self._unrated]  # EASE knows nothing of unrated films
            scores += SCORE_DTYPE(self.config.blend_weight) * ease_z
        return np.asarray(scores, dtype=SCORE_DTYPE)


def _bpr_fold_in(
    items: FloatArray, biases: FloatArray, rated: npt.NDArray[np.int32], rng: np.random.Generator
) -> FloatArray:
    """A user vector for the ``rated`` films: mini-batch BPR steps (rated film above a random one)."""
    vector = items[rated].mean(axis=0)
    n_films = items.shape[0]
    for _ in range(FOLD_IN_EPOCHS):
        positive = rated[rng.integers(rated.size, size=FOLD_IN_BATCH)]
        negative = rng.integers(n_films, size=FOLD_IN_BATCH)
        difference = items[positive] - items[negative]
        margin = difference @ vector + biases[positive] - biases[negative]
        weight = 1.0 / (1.0 + np.exp(np.clip(margin, -MAX_EXP, MAX_EXP)))
        vector += SCORE_DTYPE(FOLD_IN_LEARNING_RATE) * (
            weight @ difference / FOLD_IN_BATCH - SCORE_DTYPE(FOLD_IN_REGULARISATION) * vector
        )
    return np.asarray(vector, dtype=SCORE_DTYPE)


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools, inspected once (``threadpool_limits`` inspects them on every call,
    which costs more than a fold-in's reasons)."""
    return ThreadpoolController()


def _liked_lists(history: Csr) -> tuple[IntArray, IntArray]:
    """Each row's films rated at least ``LIKED_RATING`` (every rated film of a row without one), as
    an (n, widest row) array of film indices, -1 padded, and the number of them in each row."""
    liked = history.data >= LIKED_RATING
    row_of = np.repeat(np.arange(history.shape[0]), np.diff(history.indptr))
    liked_in_row = np.bincount(row_of[liked], minlength=history.shape[0])
    keep = liked | (liked_in_row[row_of] == 0)
    rows, cols = row_of[keep], history.indices[keep].astype(np.int64)
    counts = np.bincount(rows, minlength=history.shape[0])
    out = np.full((history.shape[0], int(counts.max(initial=0))), NO_FILM, dtype=np.int64)
    slot = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
    out[rows, slot] = cols
    return out, counts.astype(np.int64)


def fit_ease(ratings: Csr, config: ModelConfig) -> tuple[FloatArray, Csr, IntArray | None]:
    """The EASE part of the blend for a users x films rating matrix: (weights of the covered films,
    the history EASE scores (``ease.ease_history``), the covered films or None for all)."""
    started = time.perf_counter()
    history = ease_history(ratings, config.ease_rating_weights)
    films = ease_film_indices(rating_counts(ratings), config.ease_max_films)
    covered = history if films is None else sp.csr_matrix(history[:, films])
    weights = ease_weights(covered, scaled_lambda(covered, config.ease_lambda))
    logger.info(
        "EASE fitted on %d of %d films in %.1f s", weights.shape[0], ratings.shape[1], time.perf_counter() - started
    )
    return weights, history, films


def ease_film_indices(counts: npt.NDArray[np.int64], max_films: int) -> IntArray | None:
    """The ``max_films`` most-rated films (ties: the lower index first), ascending; None when that
    is every film."""
    if counts.size <= max_films:
        return None
    most_rated = np.argsort(-counts, kind="stable")[:max_films]
    return np.sort(most_rated).astype(np.int64)


def rating_counts(matrix: Csr) -> npt.NDArray[np.int64]:
    """Number of ratings of every film (column) of a users x films matrix."""
    return np.asarray(np.diff(sp.csc_matrix(matrix).indptr), dtype=np.int64)


def _standardise(scores: FloatArray) -> FloatArray:
    """Per-row z-scores (a constant row becomes zeros)."""
    mean = scores.mean(axis=1, keepdims=True)
    std = np.maximum(scores.std(axis=1, keepdims=True), STD_FLOOR)
    return np.asarray((scores - mean) / std, dtype=SCORE_DTYPE)
