from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pydantic
import pytest
import scipy.sparse as sp
from lightfm import LightFM

import recommender_engine.model.hybrid as hybrid
from recommender_engine.model.dataset import Dataset, build_dataset
from recommender_engine.model.ease import EASE_MAX_FILMS, ease_history, ease_weights, scaled_lambda
from recommender_engine.model.features import build_item_features
from recommender_engine.model.hybrid import HybridModel, ModelConfig, NotFittedError, rating_counts
from recommender_engine.ranking import mask_seen
from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX

#: Small, single-threaded fits; every film of the small test sets counts as rated (the threshold of
#: too few ratings has a test of its own).
FAST = {"no_components": 8, "epochs": 20, "num_threads": 1, "random_state": 3, "identity_min_ratings": 1}
#: An unrated film of the user's taste must rank in the first tenth of the user's unseen films (half
#: of them are of the user's taste); fitted as a WARP negative, it lands at 0.13..0.19 of them
#: (random states 0..7, genres at weight 1: where the gap is widest).
MAX_MEDIAN_RANK_SHARE = 0.1
#: Epochs over which WARP buries a film it samples as a negative only.
LONG_FIT_EPOCHS = 60
#: An unrated film of an identity-only model ranks below this share of the user's other unseen
#: films (0.52..0.67 over random states 0..5).
MIN_SUNK_RANK_SHARE = 0.45
#: Identity and genres: the test films' decades and IMDb fields say nothing of the users' taste.
GENRES_ONLY = {"imdb_rating_features": False, "imdb_votes_features": False, "decade_features": False}


def _fit(dataset: Dataset, **overrides: Any) -> HybridModel:
    return HybridModel(ModelConfig(**{**FAST, **overrides})).fit(dataset)


@pytest.fixture
def dataset(taste_ratings, films):
    return build_dataset(taste_ratings, films)


def test_config_forbids_unknown_fields():
    with pytest.raises(pydantic.ValidationError, match="components"):
        ModelConfig(components=3)  # type: ignore[call-arg]


@pytest.mark.parametrize("blend_weight", [0.0, 0.3])
def test_scores_prefer_the_users_taste(dataset, blend_weight):
    model = _fit(dataset, blend_weight=blend_weight)
    scores = model.score_block(np.arange(dataset.n_users))
    assert scores.shape == (dataset.n_users, dataset.n_films)
    assert scores.dtype == np.float32
    half = dataset.n_films // 2
    action_fans = np.array([u.endswith(("0", "2", "4", "6", "8")) for u in dataset.user_ids])
    assert (scores[action_fans, :half].mean(axis=1) > scores[action_fans, half:].mean(axis=1)).all()
    assert (scores[~action_fans, half:].mean(axis=1) > scores[~action_fans, :half].mean(axis=1)).all()


def test_score_block_is_the_embedding_product(dataset):
    model = _fit(dataset, blend_weight=0.0)
    params = model.params
    items = params.item_features.matrix.toarray()
    expected = (
        params.user_embeddings @ (items @ params.feature_embeddings).T
        + (items @ params.feature_biases)[None, :]
        + params.user_biases[:, None]
    )
    users = np.array([4, 0, 9])
    assert np.allclose(model.score_block(users), expected[users], atol=1e-4)


@pytest.mark.parametrize("ease_max_films", [5, 5_000])  # EASE on some films, on all
def test_a_model_for_some_users_scores_them_as_the_whole_model_does(dataset, ease_max_films):
    """What a Dask worker does: the item side alone, plus one block's user rows."""
    model = _fit(dataset, blend_weight=0.3, ease_max_films=ease_max_films)
    items = model.for_users(model.user_rows(np.zeros(0, dtype=np.int64)))
    block = np.arange(3, 9)

    scores = items.for_users(model.user_rows(block)).score_block(np.arange(block.size))

    assert items.n_users == 0
    np.testing.assert_array_equal(scores, model.score_block(block))


def test_blend_adds_standardised_ease_scores(dataset):
    plain = _fit(dataset, blend_weight=0.0)
    blended = _fit(dataset, blend_weight=0.5)
    users = np.arange(5)
    lightfm = plain.score_block(users)
    params = blended.params
    assert params.history is not None and params.ease is not None
    ease = np.asarray(params.history[users] @ params.ease)

    def z(x: np.ndarray) -> np.ndarray:
        return np.asarray((x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True))

    assert np.allclose(blended.score_block(users), z(lightfm) + 0.5 * z(ease), atol=1e-3)


def _z(x: np.ndarray) -> np.ndarray:
    """Per-row z-scores; a constant row (a user who rated none of EASE's films) becomes zeros."""
    return np.asarray((x - x.mean(axis=1, keepdims=True)) / np.maximum(x.std(axis=1, keepdims=True), 1e-6))


#: Films EASE covers in the capped tests (of the 20 test films).
CAP = 8


def test_ease_covers_every_film_up_to_its_cap(dataset):
    model = _fit(dataset, blend_weight=0.3, ease_max_films=dataset.n_films)
    assert model.params.ease_films is None  # every film: the dense EASE of before
    assert model.params.ease is not None and model.params.ease.shape == (dataset.n_films, dataset.n_films)
    users = np.arange(dataset.n_users)
    assert np.array_equal(model.score_block(users), _fit(dataset, blend_weight=0.3).score_block(users))
    # naming every film explicitly scores exactly the same
    explicit = HybridModel(model.config)
    explicit.set_params(replace(model.params, ease_films=np.arange(dataset.n_films)))
    assert np.array_equal(explicit.score_block(users), model.score_block(users))
    assert np.array_equal(explicit.fold_in(dataset.matrix[:4], seed=1), model.fold_in(dataset.matrix[:4], seed=1))


def _capped_expectation(lightfm: np.ndarray, covered_scores: np.ndarray, films: np.ndarray) -> np.ndarray:
    """z(LightFM) + 0.5 x EASE z-scores over the covered films; z(LightFM) elsewhere."""
    ease_z = _z(lightfm)
    ease_z[:, films] = _z(covered_scores)
    return _z(lightfm) + 0.5 * ease_z


def test_capped_ease_scores_only_the_most_rated_films(dataset):
    plain = _fit(dataset, blend_weight=0.0)
    capped = _fit(dataset, blend_weight=0.5, ease_max_films=CAP)
    params = capped.params
    assert params.ease_films is not None and params.ease is not None and params.history is not None
    counts = rating_counts(dataset.matrix)
    films = params.ease_films
    assert films.shape == (CAP,) and params.ease.shape == (CAP, CAP)
    assert np.all(np.diff(films) > 0)
    assert counts[films].min() >= np.delete(counts, films).max()  # the most-rated films
    covered = sp.csr_matrix(params.history[:, films])
    assert np.allclose(params.ease, ease_weights(covered, scaled_lambda(covered, capped.config.ease_lambda)))
    users = np.arange(dataset.n_users)
    lightfm = plain.score_block(users)
    scores = capped.score_block(users)
    expected = _capped_expectation(lightfm, np.asarray(covered[users] @ params.ease), films)
    assert np.allclose(scores, expected, atol=1e-3)
    outside = np.setdiff1d(np.arange(dataset.n_films), films)
    for user in users:  # films EASE does not cover keep their LightFM order
        assert np.array_equal(np.argsort(-scores[user, outside]), np.argsort(-lightfm[user, outside]))


def test_fold_in_with_a_capped_ease(dataset):
    capped = _fit(dataset, blend_weight=0.5, ease_max_films=CAP)
    params = capped.params
    assert params.ease_films is not None and params.ease is not None
    plain = HybridModel(capped.config.model_copy(update={"blend_weight": 0.0}))
    plain.set_params(replace(params, ease=None, history=None, ease_films=None))
    ratings = dataset.matrix[:5]
    history = ease_history(ratings, rating_weighted=True)
    covered = np.asarray(history[:, params.ease_films] @ params.ease)
    expected = _capped_expectation(plain.fold_in(ratings, seed=2), covered, params.ease_films)
    got = capped.fold_in(ratings, seed=2)
    assert got.shape == (5, dataset.n_films)
    assert np.allclose(got, expected, atol=1e-3)


def test_params_refuse_ease_films_that_do_not_fit(dataset):
    params = _fit(dataset, blend_weight=0.3, ease_max_films=CAP, epochs=1).params
    assert params.ease_films is not None
    for films, message in [
        (params.ease_films[::-1].copy(), "ascending"),
        (np.append(params.ease_films[1:], dataset.n_films), "ascending"),
        (params.ease_films[1:], "ease has shape"),
    ]:
        with pytest.raises(ValueError, match=message):
            replace(params, ease_films=films).check()


def test_ease_cap_is_bounded_by_the_dense_limit():
    with pytest.raises(pydantic.ValidationError, match="ease_max_films"):
        ModelConfig(ease_max_films=EASE_MAX_FILMS + 1)


def test_single_threaded_fits_are_reproducible(dataset):
    users = np.arange(dataset.n_users)
    assert np.array_equal(_fit(dataset).score_block(users), _fit(dataset).score_block(users))


def test_fit_refuses_a_dataset_without_ratings(films):
    empty = build_dataset(pd.DataFrame(columns=list(Columns.RATINGS)), films)
    with pytest.raises(ValueError, match="without ratings"):
        HybridModel().fit(empty)


def test_scoring_before_fit_or_out_of_range_fails(dataset):
    with pytest.raises(NotFittedError):
        HybridModel().score_block(np.array([0]))
    model = _fit(dataset, epochs=1)
    with pytest.raises(IndexError, match="out of range"):
        model.score_block(np.array([dataset.n_users]))


def test_side_features_are_used_when_enabled(dataset):
    model = _fit(dataset, imdb_rating_features=True, decade_features=True, epochs=2)
    names = model.params.item_features.names
    assert any(name.startswith("imdb:") for name in names)
    assert any(name.startswith("decade:") for name in names)
    assert model.params.feature_embeddings.shape == (len(names), FAST["no_components"])


@pytest.mark.parametrize("rating_weights", [True, False])
def test_ease_scores_the_rating_weighted_or_binary_history(dataset, rating_weights):
    model = _fit(dataset, blend_weight=0.3, epochs=1, ease_rating_weights=rating_weights)
    assert model.params.history is not None
    history = model.params.history.toarray()
    ratings = dataset.matrix.toarray()
    expected = ratings / RATING_MAX if rating_weights else (ratings > 0).astype(np.float32)
    assert np.allclose(history, expected)
    distinct_values = len(np.unique(history[history > 0]))
    assert distinct_values == (len(np.unique(ratings[ratings > 0])) if rating_weights else 1)


@pytest.mark.parametrize("identity_shrinkage", [0.0, 3.0])
def test_identity_weights_come_from_the_training_counts(taste_ratings, films, identity_shrinkage):
    unrated = films[Columns.Item].iloc[5]
    dataset = build_dataset(taste_ratings[taste_ratings[Columns.Item] != unrated], films)
    model = _fit(dataset, epochs=1, identity_shrinkage=identity_shrinkage)
    counts = np.diff(dataset.matrix.tocsc().indptr)
    assert counts[5] == 0 and (counts[:5] > 0).all()
    flags = model.config.feature_flags()
    expected = build_item_features(films, flags, rating_counts=counts).matrix.toarray()
    assert np.array_equal(model.params.item_features.matrix.toarray(), expected)
    assert not np.array_equal(expected, build_item_features(films, flags).matrix.toarray())


def test_unrated_films_are_scored_through_their_genres(taste_ratings, films):
    cold_action, cold_drama = 0, len(films) - 1
    cold_ids = films[Columns.Item].iloc[[cold_action, cold_drama]]
    dataset = build_dataset(taste_ratings[~taste_ratings[Columns.Item].isin(cold_ids)], films)
    model = _fit(dataset, blend_weight=0.3, **GENRES_ONLY)
    features = model.params.item_features
    assert features.matrix[cold_action, cold_action] == 0  # no identity feature for an unrated film
    assert {features.names[c] for c in features.matrix.getrow(cold_action).indices} == {"genre:Action"}
    scores = model.score_block(np.arange(dataset.n_users))
    action_fans = np.array([int(u[1:]) % 2 == 0 for u in dataset.user_ids])
    prefers_action = scores[:, cold_action] > scores[:, cold_drama]
    assert prefers_action[action_fans].all()
    assert not prefers_action[~action_fans].any()


def _without_films(ratings: pd.DataFrame, films: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    return ratings[~ratings[Columns.Item].isin(films[Columns.Item].iloc[positions])]


def test_the_blend_scores_an_unrated_film_by_lightfm_alone(taste_ratings, films):
    unrated = [0, len(films) - 1]
    dataset = build_dataset(_without_films(taste_ratings, films, unrated), films)
    plain = _fit(dataset, blend_weight=0.0)
    blended = _fit(dataset, blend_weight=0.5)
    users = np.arange(6)
    lightfm = plain.score_block(users)
    assert blended.params.history is not None and blended.params.ease is not None
    ease = np.asarray(blended.params.history[users] @ blended.params.ease)
    assert np.all(ease[:, unrated] == 0)  # EASE knows nothing of them

    def z(x: np.ndarray) -> np.ndarray:
        return np.asarray((x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True))

    expected = z(lightfm) + 0.5 * z(ease)
    expected[:, unrated] = 1.5 * z(lightfm)[:, unrated]
    assert np.allclose(blended.score_block(users), expected, atol=1e-3)


def test_a_film_with_fewer_ratings_than_the_threshold_is_scored_like_an_unrated_one(taste_ratings, films):
    few = films[Columns.Item].iloc[0]
    counts = taste_ratings[Columns.Item].value_counts()
    kept = taste_ratings[taste_ratings[Columns.Item] != few]
    ratings = pd.concat([kept, taste_ratings[taste_ratings[Columns.Item] == few].head(2)])
    dataset = build_dataset(ratings, films)
    assert counts[few] > 2
    below = _fit(dataset, identity_min_ratings=3, blend_weight=0.5)
    unrated = _fit(build_dataset(kept, films), identity_min_ratings=3, blend_weight=0.5)
    position = int(np.flatnonzero(dataset.film_ids == few)[0])
    features = below.params.item_features.matrix.toarray()
    assert features[position, position] == 0  # no identity weight: side features alone
    assert np.allclose(features[position], unrated.params.item_features.matrix.toarray()[position])
    users = np.arange(6)
    lightfm = _fit(dataset, identity_min_ratings=3, blend_weight=0.0).score_block(users)

    def z(x: np.ndarray) -> np.ndarray:
        return np.asarray((x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, keepdims=True))

    # its EASE z-score is replaced by the LightFM one, as for an unrated film
    assert np.allclose(below.score_block(users)[:, position], 1.5 * z(lightfm)[:, position], atol=1e-3)


@pytest.mark.parametrize("blend_weight", [0.0, 0.3])
def test_an_unrated_film_of_the_users_taste_is_not_buried(taste_ratings, films, blend_weight):
    unrated_action, unrated_drama = 0, len(films) - 1
    dataset = build_dataset(_without_films(taste_ratings, films, [unrated_action, unrated_drama]), films)
    model = _fit(dataset, blend_weight=blend_weight, epochs=LONG_FIT_EPOCHS, side_feature_weight=1.0, **GENRES_ONLY)
    users = np.arange(dataset.n_users)
    scores = model.score_block(users)
    mask_seen(scores, dataset.matrix)
    action_fans = np.array([int(u[1:]) % 2 == 0 for u in dataset.user_ids])
    liked = np.where(action_fans, unrated_action, unrated_drama)
    # rank of the unrated film of the user's taste among the user's unseen films (0 = first)
    rank = (scores > scores[users, liked][:, None]).sum(axis=1)
    unseen = np.isfinite(scores).sum(axis=1)
    assert np.median(rank / unseen) < MAX_MEDIAN_RANK_SHARE


def test_an_unrated_film_without_side_features_is_fitted_as_in_plain_lightfm(taste_ratings, films):
    unrated = [0, len(films) - 1]
    dataset = build_dataset(_without_films(taste_ratings, films, unrated), films)
    model = _fit(dataset, blend_weight=0.0, genre_features=False, **GENRES_ONLY)  # identity features only
    assert model.params.item_features.matrix[0, 0] == 1.0
    users = np.arange(dataset.n_users)
    scores = model.score_block(users)
    mask_seen(scores, dataset.matrix)
    for film in unrated:
        # WARP samples it as a negative only, so it sinks (left out of the fit, it floats near 0.3)
        share_above = (scores > scores[:, [film]]).sum(axis=1) / (np.isfinite(scores).sum(axis=1) - 1)
        assert np.median(share_above) > MIN_SUNK_RANK_SHARE


def test_the_fit_reports_every_epoch(dataset):
    seen: list[tuple[int, int]] = []
    HybridModel(ModelConfig(**FAST)).fit(dataset, on_epoch=lambda done, total: seen.append((done, total)))
    assert seen == [(epoch, FAST["epochs"]) for epoch in range(1, FAST["epochs"] + 1)]


@pytest.mark.parametrize("weighted", [False, True])
def test_fitting_epoch_by_epoch_equals_lightfms_fit(weighted):
    """One thread: the same seed gives the same parameters as ``LightFM.fit`` over all epochs at once."""
    rng = np.random.default_rng(0)
    interactions = sp.random(30, 40, density=0.2, format="coo", dtype=np.float32, random_state=1)
    weights = sp.coo_matrix((rng.random(interactions.nnz, dtype=np.float32), (interactions.row, interactions.col)))
    interactions.data[:] = 1.0
    features = sp.csr_matrix(sp.hstack([sp.identity(40), sp.random(40, 5, density=0.3, random_state=2)]))  # float64
    sample_weight = weights if weighted else None

    def new() -> LightFM:
        return LightFM(no_components=4, loss="warp", random_state=np.random.RandomState(7))

    reference = new()
    reference.fit(interactions, item_features=features, sample_weight=sample_weight, epochs=5, num_threads=1)
    stepped = new()
    hybrid.fit_epochs(
        stepped,
        interactions,
        item_features=sp.csr_matrix(features, dtype=np.float32),
        sample_weight=sample_weight,
        epochs=5,
        num_threads=1,
    )
    for name in ("item_embeddings", "item_biases", "user_embeddings", "user_biases"):
        assert np.array_equal(getattr(stepped, name), getattr(reference, name)), name
