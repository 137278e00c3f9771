import numpy as np
import pytest

from recommender_engine.evaluation.baselines import (
    AlsModel,
    EaseModel,
    ImdbTopModel,
    PopularityModel,
    Recommender,
)
from recommender_engine.model.dataset import build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig, NotFittedError
from recommender_engine.ranking import rank_block
from recsys_common.columns import Columns

FAST_LIGHTFM = {"no_components": 8, "epochs": 20, "num_threads": 1}
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
        return HybridModel(ModelConfig(genre_features=False, blend_weight=0.0, **FAST_LIGHTFM))


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
