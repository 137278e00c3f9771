import numpy as np
import pandas as pd
import pytest

from recommender_engine.evaluation.baselines import (
    AlsModel,
    EaseModel,
    GenreAffinityModel,
    GenrePopularityModel,
    ImdbTopModel,
    PopularityModel,
    RandomModel,
    Recommender,
    genre_popularity,
)
from recommender_engine.model.dataset import build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig, NotFittedError
from recommender_engine.ranking import rank_block
from recsys_common.columns import Columns

FAST_LIGHTFM = {"no_components": 8, "epochs": 20, "num_threads": 1}
IDENTITY_ONLY = {
    "genre_features": False,
    "imdb_rating_features": False,
    "imdb_votes_features": False,
    "decade_features": False,
}
MIN_IN_TASTE_SHARE = 0.75


@pytest.fixture
def dataset(ratings, films):
    return build_dataset(ratings, films)


class RecommenderContract:
    """Every model of the evaluation honours this; subclasses say how to make one."""

    personalised = True

    def make(self) -> Recommender:
        raise NotImplementedError

    def test_fit_returns_the_model_and_scores_every_film(self, dataset):
        model = self.make()
        assert model.fit(dataset) is model
        scores = model.score_block(np.arange(dataset.n_users))
        assert scores.shape == (dataset.n_users, dataset.n_films)
        assert scores.dtype == np.float32
        assert np.isfinite(scores).all()

    def test_a_users_scores_do_not_depend_on_the_block(self, dataset):
        model = self.make().fit(dataset)
        whole = model.score_block(np.arange(dataset.n_users))
        assert np.allclose(model.score_block(np.array([5, 0, 3])), whole[[5, 0, 3]], atol=1e-5)

    def test_scoring_before_fit_fails(self):
        with pytest.raises(NotFittedError):
            self.make().score_block(np.array([0]))

    def test_top_films_follow_the_users_taste_or_are_the_same_for_all(self, dataset):
        model = self.make().fit(dataset)
        users = np.arange(dataset.n_users)
        scores = model.score_block(users)
        if not self.personalised:
            assert (scores == scores[0]).all()
            return
        top, _ = rank_block(scores, dataset.matrix[users], 5)
        half = dataset.n_films // 2
        action_fan = np.array([int(u.rsplit("-", 1)[1]) % 2 == 0 for u in dataset.user_ids])
        in_taste = np.where(action_fan[:, None], top < half, top >= half)
        # each user has 8 unseen films of their taste among 28 candidates: chance is below 0.3
        assert in_taste.mean() > MIN_IN_TASTE_SHARE


class TestPopularity(RecommenderContract):
    personalised = False

    def make(self) -> Recommender:
        return PopularityModel()

    def test_scores_rank_by_rating_count(self, dataset):
        scores = self.make().fit(dataset).score_block(np.array([0]))[0]
        counts = np.diff(dataset.matrix.tocsc().indptr)
        assert np.array_equal(np.argsort(-scores, kind="stable"), np.argsort(-counts, kind="stable"))


class TestImdbTop(RecommenderContract):
    personalised = False

    def make(self) -> Recommender:
        return ImdbTopModel()

    def test_best_weighted_rating_first_and_unknown_last(self, ratings, films):
        films = films.copy()
        films.loc[films.index[-1], Columns.ImdbRating] = np.nan  # the best film loses its rating
        scores = self.make().fit(build_dataset(ratings, films)).score_block(np.array([0]))[0]
        assert int(np.argmax(scores)) == len(films) - 2
        assert int(np.argmin(scores)) == len(films) - 1

    def test_needs_imdb_columns(self, ratings, films):
        with pytest.raises(ValueError, match="imdb_votes"):
            self.make().fit(build_dataset(ratings, films.drop(columns=[Columns.ImdbVotes])))


class TestPlainLightFM(RecommenderContract):
    def make(self) -> Recommender:
        return HybridModel(ModelConfig(blend_weight=0.0, **IDENTITY_ONLY, **FAST_LIGHTFM))


class TestEngine(RecommenderContract):
    def make(self) -> Recommender:
        return HybridModel(ModelConfig(**FAST_LIGHTFM))


class TestAls(RecommenderContract):
    def make(self) -> Recommender:
        return AlsModel(num_threads=1)


class TestEase(RecommenderContract):
    def make(self) -> Recommender:
        return EaseModel(regularisation=10.0)

    def test_scores_are_history_times_weights(self, dataset):
        model = self.make().fit(dataset)
        x = (dataset.matrix.toarray() > 0).astype(float)
        p = np.linalg.inv(x.T @ x + 10.0 * np.eye(x.shape[1]))
        b = np.eye(x.shape[1]) - p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        assert np.allclose(model.score_block(np.arange(4)), (x @ b)[:4], atol=1e-4)


def _tiny(films, rows: list[tuple[str, int]], genres: list[tuple[str, ...]]):
    """A dataset over the first len(genres) films of ``films`` with the given genres and ratings."""
    catalogue = films.iloc[: len(genres)].copy()
    catalogue[Columns.Genres] = genres
    ids = catalogue[Columns.Item].tolist()
    ratings = pd.DataFrame(
        [(user, ids[film], 5.0, 1) for user, film in rows],
        columns=[Columns.User, Columns.Item, Columns.Rating, "timestamp"],
    )
    return build_dataset(ratings, catalogue)


TINY_GENRES = [("A",), ("A", "B"), ("B",), ("C",), ("A",), ("B", "C"), ()]
# film 0 (A) rated 3 times, film 1 (A, B) twice, film 2 (B) once; films 3..6 unrated
TINY_RATINGS = [("u", 0), ("v", 0), ("w", 0), ("u", 1), ("v", 1), ("w", 2)]


def test_genre_popularity_is_the_mean_of_the_genres_rating_counts(films):
    dataset = _tiny(films, TINY_RATINGS, TINY_GENRES)
    # N_A = 3 + 2 = 5, N_B = 2 + 1 = 3, N_C = 0; a film without a genre scores 0
    assert genre_popularity(dataset).tolist() == pytest.approx([5, 4, 3, 0, 5, 1.5, 0])


def test_genre_affinity_ranks_by_the_users_share_then_by_genre_popularity(films):
    dataset = _tiny(films, TINY_RATINGS, TINY_GENRES)
    scores = GenreAffinityModel().fit(dataset).score_block(np.arange(dataset.n_users))
    order = np.argsort(-scores, axis=1, kind="stable")
    # u (and v) rated films 0 (A) and 1 (A, B). Films sharing a genre with both: 0, 1, 4 (genre
    # popularity 5, 4, 5; 0 before 4 on the index); with one: 2 (3), 5 (1.5); with none: 3, 6
    assert order[0].tolist() == [0, 4, 1, 2, 5, 3, 6]
    assert order[1].tolist() == order[0].tolist()
    # w rated films 0 (A) and 2 (B): only film 1 (A, B) shares a genre with both
    assert order[2].tolist() == [1, 0, 4, 2, 5, 3, 6]
    # scores are ranks: n_films for a user's first film down to 1
    assert sorted(scores[2].tolist()) == list(range(1, dataset.n_films + 1))


def test_genre_affinity_prefers_the_genres_the_user_rated(films):
    dataset = _tiny(films, [("u", 3), ("v", 0), ("v", 2)], TINY_GENRES)
    scores = GenreAffinityModel().fit(dataset).score_block(np.array([0]))[0]  # u rated film 3 (C) only
    # films with C (3 and 5) first; every genre has one rating, so the rest follow on the index
    assert np.argsort(-scores, kind="stable").tolist() == [3, 5, 0, 1, 2, 4, 6]


class TestGenrePopularity(RecommenderContract):
    personalised = False

    def make(self) -> Recommender:
        return GenrePopularityModel()


class TestGenreAffinity(RecommenderContract):
    def make(self) -> Recommender:
        return GenreAffinityModel()


class TestRandom(RecommenderContract):
    def make(self) -> Recommender:
        return RandomModel(seed=5)

    def test_top_films_follow_the_users_taste_or_are_the_same_for_all(self, dataset):
        """Random scores follow no taste: every user gets another, reproducible, order."""
        scores = self.make().fit(dataset).score_block(np.arange(dataset.n_users))
        assert np.array_equal(scores, self.make().fit(dataset).score_block(np.arange(dataset.n_users)))
        assert not np.array_equal(scores, RandomModel(seed=6).fit(dataset).score_block(np.arange(dataset.n_users)))
        assert len({tuple(np.argsort(row)) for row in scores}) == dataset.n_users
        assert ((scores >= 0) & (scores < 1)).all()
