import numpy as np
import pandas as pd
import pytest

from recommender_engine.cycle import COLD_START_ONLY
from recommender_engine.model.dataset import build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recommender_engine.similar import SimilarityModel, similar_films
from recsys_common.columns import Columns
from recsys_common.ports.recstore import SIMILAR_MAX
from tests.datasets import BASE_TIMESTAMP, synthetic_films, synthetic_ratings
from tests.engines import small_engine
from tests.fakes import FakeRatingStore, FakeRecStore

N_FILMS = 30
N_USERS = 60
TWINS = (4, 17)


def _twin_ratings(seed: int = 3) -> pd.DataFrame:
    """Random ratings, except that the two ``TWINS`` films are rated by exactly the same users."""
    films = synthetic_films(N_FILMS)[Columns.Item].to_numpy()
    rng = np.random.default_rng(seed)
    others = [f for f in range(N_FILMS) if f not in TWINS]
    rows = []
    for user in range(N_USERS):
        chosen = list(rng.choice(others, 6, replace=False))
        if user % 3 == 0:
            chosen += list(TWINS)
        rows += [(f"u{user}", films[f], float(rng.integers(6, 11)), BASE_TIMESTAMP + user) for f in chosen]
    return pd.DataFrame(rows, columns=list(Columns.RATINGS))


def _model(**config: object) -> HybridModel:
    dataset = build_dataset(_twin_ratings(), synthetic_films(N_FILMS))
    settings = {"epochs": 10, "no_components": 8, "num_threads": 1, "identity_min_ratings": 1, **config}
    return HybridModel(ModelConfig(**settings)).fit(dataset)


@pytest.fixture(scope="module")
def model() -> HybridModel:
    return _model()


def test_a_films_twin_comes_first(model: HybridModel) -> None:
    top = similar_films(model)
    a, b = TWINS
    assert top[a, 0] == b
    assert top[b, 0] == a


def test_a_film_is_never_its_own_similar_film_and_lists_are_full(model: HybridModel) -> None:
    top = similar_films(model, k=20)
    assert top.shape == (N_FILMS, 20)
    assert (top >= 0).all()
    assert not (top == np.arange(N_FILMS)[:, None]).any()
    assert all(len(set(row)) == len(row) for row in top.tolist())


def test_a_catalogue_smaller_than_k_gets_every_other_film() -> None:
    films = synthetic_films(5)
    rows = [(f"u{u}", films[Columns.Item][f], 8.0, BASE_TIMESTAMP) for u in range(6) for f in range(5) if (u + f) % 2]
    model = HybridModel(ModelConfig(epochs=2, no_components=4, num_threads=1)).fit(
        build_dataset(pd.DataFrame(rows, columns=list(Columns.RATINGS)), films)
    )
    top = similar_films(model, k=20)
    assert top.shape == (5, 4)
    assert all(sorted(row) == sorted(set(range(5)) - {i}) for i, row in enumerate(top.tolist()))


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_blockwise_equals_one_shot(model: HybridModel, weight: float) -> None:
    similarity = SimilarityModel.of(model, weight)
    one_shot = similarity.top(10, block_rows=N_FILMS)
    assert np.array_equal(similarity.top(10, block_rows=7), one_shot)
    assert np.array_equal(similarity.top(10, block_rows=1), one_shot)
    # one shot is the plain sort of the full similarity matrix (ties: the lower index)
    scores = similarity.scores(np.arange(N_FILMS))
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert np.array_equal(one_shot, expected)


def test_films_outside_eases_cap_rest_on_the_embeddings_alone() -> None:
    capped = _model(ease_max_films=10)
    covered = capped.params.ease_films
    assert covered is not None and covered.size == 10
    outside = np.setdiff1d(np.arange(N_FILMS), covered)
    blended = SimilarityModel.of(capped, 1.0).top(10)
    embeddings = SimilarityModel.of(capped, 0.0).top(10)
    assert np.array_equal(blended[outside], embeddings[outside])
    assert not np.array_equal(blended[covered], embeddings[covered])  # EASE changes the covered films' lists


def test_a_model_without_ease_uses_the_embeddings() -> None:
    plain = _model(blend_weight=0.0)
    assert not plain.params.blended
    assert np.array_equal(similar_films(plain, k=10), SimilarityModel.of(plain, 0.0).top(10))


def test_bad_arguments_are_refused(model: HybridModel) -> None:
    with pytest.raises(ValueError, match="negative"):
        SimilarityModel.of(model, -1.0)
    with pytest.raises(ValueError, match="block_rows"):
        SimilarityModel.of(model).top(5, block_rows=0)


def test_a_cycle_publishes_every_films_similar_films_with_the_version(tmp_path) -> None:
    ratings, store = FakeRatingStore(), FakeRecStore()
    ratings.append(synthetic_ratings(synthetic_films(), n_users=20, per_user=8))
    assert small_engine(tmp_path, ratings, store).run_cycle().status == "published"
    meta = store.current()
    assert meta is not None
    films = store.films(meta.version)
    for film in films:
        similar = store.similar(film, meta)
        assert similar is not None and len(similar) == SIMILAR_MAX
        assert film not in similar and set(similar) <= set(films)
    assert store.similar(films[0], meta, limit=3) == store.similar(films[0], meta)[:3]  # type: ignore[index]
    assert store.similar("not-a-film", meta) is None


def test_a_cold_start_only_version_has_no_similar_films(tmp_path) -> None:
    store = FakeRecStore()
    small_engine(tmp_path, FakeRatingStore(), store).run_cycle()
    meta = store.current()
    assert meta is not None and meta.model_version == COLD_START_ONLY
    assert store.similar(store.films(meta.version)[0], meta) is None
    assert store.calls["put_similar"] == 0
