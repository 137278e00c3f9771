import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender_engine.evaluation.cold_start import (
    COLD_MODEL_NAMES,
    MIXED_LIST_LENGTHS,
    _evaluate,
    _MixedAccumulator,
    run_item_cold_start,
    split_films,
)
from recommender_engine.model.dataset import build_dataset
from recommender_engine.model.hybrid import HybridModel, ModelConfig
from recsys_common.columns import Columns

FAST_ENGINE = ModelConfig(no_components=8, epochs=20, num_threads=1)
#: A quarter of the 40 films: 10 held out, about 5 of each taste.
HOLDOUT = 0.25
K = 3
#: Share of (in-taste, out-of-taste) pairs of held-out films the engine must order right (random: 0.5).
MIN_PAIRS_IN_ORDER = 0.9


def _ids(frame: pd.DataFrame) -> set[str]:
    return set(frame[Columns.Item])


def test_the_held_out_films_lose_every_rating(ratings, films):
    train, held_out_ratings, held_out = split_films(ratings, films, 0.1, 42)
    assert len(held_out) == 4  # round(40 * 0.1)
    assert set(held_out) <= _ids(films)
    assert not _ids(train) & set(held_out)
    assert _ids(held_out_ratings) <= set(held_out)
    assert len(train) + len(held_out_ratings) == len(ratings)
    rated = ratings[ratings[Columns.Item].isin(held_out)]
    assert len(held_out_ratings) == len(rated) > 0


def test_the_film_split_is_deterministic_and_ignores_row_order(ratings, films):
    _, _, first = split_films(ratings, films, 0.1, 42)
    _, _, shuffled = split_films(
        ratings.sample(frac=1.0, random_state=3), films.sample(frac=1.0, random_state=4), 0.1, 42
    )
    assert first.tolist() == shuffled.tolist()
    others = [split_films(ratings, films, 0.1, seed)[2].tolist() for seed in (43, 44)]
    assert first.tolist() not in others


def test_keep_first_leaves_each_held_out_films_earliest_ratings_in_training(ratings, films):
    train, held_out_ratings, held_out = split_films(ratings, films, 0.1, 42, keep_first=2)
    for film in held_out:
        kept = train[train[Columns.Item] == film]
        later = held_out_ratings[held_out_ratings[Columns.Item] == film]
        assert len(kept) == min(2, len(ratings[ratings[Columns.Item] == film]))
        assert later.empty or kept[Columns.Timestamp].max() <= later[Columns.Timestamp].min()
    assert len(train) + len(held_out_ratings) == len(ratings)
    with pytest.raises(ValueError, match="keep_first"):
        split_films(ratings, films, 0.1, 42, keep_first=-1)


class _Oracle:
    """Scores the user's training films highest and their test films next: only masking keeps the
    training films (the kept first ratings of held-out films) out of the top-k."""

    def __init__(self, train, test) -> None:
        self._scores = 2.0 * (train.matrix.toarray() > 0) + (test.toarray() > 0)

    def fit(self, dataset):
        return self

    def score_block(self, users):
        return self._scores[users].astype(np.float32)


def test_a_held_out_film_a_user_rated_in_training_is_never_ranked_for_them(ratings, films):
    train_ratings, held_out_ratings, held_out_ids = split_films(ratings, films, HOLDOUT, 42, keep_first=2)
    train = build_dataset(train_ratings, films)
    test = train.with_ratings(held_out_ratings)
    held_out = np.flatnonzero(np.isin(train.film_ids, held_out_ids)).astype(np.int64)
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int64)
    assert (train.matrix[users][:, held_out].nnz) > 0  # users rated some held-out films in training
    metrics, _ = _evaluate(_Oracle(train, test), train, test, users, held_out, K)
    assert metrics.ndcg == pytest.approx(1.0)  # the test films come first: the training ones were masked


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, 0.999])
def test_a_fraction_that_holds_out_nothing_or_everything_is_refused(ratings, films, fraction):
    with pytest.raises(ValueError, match=r"holdout fraction|leaves none"):
        split_films(ratings, films, fraction, 42)


def test_the_engine_ranks_held_out_films_of_the_users_taste_first(ratings, films):
    train_ratings, _, held_out_ids = split_films(ratings, films, HOLDOUT, 42)
    train = build_dataset(train_ratings, films)
    scores = HybridModel(FAST_ENGINE).fit(train).score_block(np.arange(train.n_users))
    held_out = np.flatnonzero(np.isin(train.film_ids, held_out_ids))
    action = held_out[held_out < len(films) // 2]
    drama = held_out[held_out >= len(films) // 2]
    assert len(action) and len(drama)
    action_fan = np.array([int(user.rsplit("-", 1)[1]) % 2 == 0 for user in train.user_ids])
    # for each user, every (held-out film of the user's genre, held-out film of the other genre) pair
    in_order = np.concatenate(
        [
            (scores[action_fan][:, action, None] > scores[action_fan][:, None, drama]).ravel(),
            (scores[~action_fan][:, drama, None] > scores[~action_fan][:, None, action]).ravel(),
        ]
    )
    assert in_order.mean() > MIN_PAIRS_IN_ORDER


def test_every_model_is_evaluated_and_the_engine_beats_random(ratings, films):
    report = run_item_cold_start(ratings, films, holdout_fraction=HOLDOUT, k=K, engine_config=FAST_ENGINE)
    payload = report.to_dict()
    json.dumps(payload)  # JSON-ready
    assert list(payload["models"]) == list(COLD_MODEL_NAMES)
    assert payload["protocol"]["k"] == K
    assert payload["protocol"]["holdout_fraction"] == HOLDOUT
    stats = payload["dataset"]
    assert stats["films"] == len(films)
    assert stats["held_out_films"] == 10
    assert stats["train_ratings"] + stats["held_out_ratings"] == len(ratings)
    assert 0 < stats["evaluated_users"] <= stats["users"]
    models = payload["models"]
    for name, result in models.items():
        for metric in ("precision", "recall", "ndcg", "map", "coverage"):
            assert 0.0 <= result[metric] <= 1.0, (name, metric)
        assert result["n_users"] == stats["evaluated_users"]
        assert 0.0 < result["mixed"]["candidate_share"] < 1.0
    # each user likes one genre: every held-out film of it is relevant-looking, random is not
    assert models["engine"]["precision"] > 1.5 * models["random"]["precision"]
    assert models["engine"]["ndcg"] > 1.5 * models["random"]["ndcg"]
    assert models["genre_affinity"]["precision"] > 1.5 * models["random"]["precision"]
    assert models["engine"]["config"] == FAST_ENGINE.model_dump(mode="json")


def test_the_table_has_a_row_per_model_in_both_parts(ratings, films):
    table = run_item_cold_start(ratings, films, holdout_fraction=HOLDOUT, k=K, engine_config=FAST_ENGINE).to_table()
    lines = table.splitlines()
    assert "10 held out" in lines[0]
    assert lines[1].split()[:4] == ["model", f"P@{K}", f"R@{K}", f"nDCG@{K}"]
    assert [line.split()[0] for line in lines[3:7]] == list(COLD_MODEL_NAMES)
    assert len({len(line) for line in lines[1:7]}) == 1
    mixed = lines[lines.index("") + 2 :]
    assert all(f"top-{n}" in mixed[0] for n in MIXED_LIST_LENGTHS)
    assert [line.split()[0] for line in mixed[2:]] == list(COLD_MODEL_NAMES)


def test_the_random_model_puts_held_out_films_in_lists_at_their_share(ratings, films):
    report = run_item_cold_start(ratings, films, holdout_fraction=HOLDOUT, k=K, engine_config=FAST_ENGINE)
    mixed = next(result.mixed for result in report.results if result.name == "random")
    assert mixed.percentile_mean == pytest.approx(0.5, abs=0.1)
    assert mixed.top_share[MIXED_LIST_LENGTHS[0]] == pytest.approx(mixed.candidate_share, abs=0.1)


def test_bad_k_is_refused(ratings, films):
    with pytest.raises(ValueError, match="k must"):
        run_item_cold_start(ratings, films, k=0)


def test_mixed_ranking_statistics_by_hand():
    # 6 films, 1 and 4 held out; the user saw film 0; candidates ranked 5, 1, 3, 2, 4 (best first)
    accumulator = _MixedAccumulator(np.array([1, 4]), n_films=6)
    scores = np.array([[9.0, 5.0, 3.0, 4.0, 1.0, 6.0]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0]], dtype=np.float32))
    relevant = sp.csr_matrix(np.array([[0, 0, 0, 0, 1, 0]], dtype=np.float32))
    accumulator.add(scores, seen, relevant)
    mixed = accumulator.result()
    assert mixed.candidate_share == pytest.approx(2 / 5)
    assert mixed.top_share == {n: pytest.approx(2 / 5) for n in MIXED_LIST_LENGTHS}  # lists hold every candidate
    assert mixed.best_rank_median == 2  # film 1
    assert mixed.percentile_mean == pytest.approx(((2 - 1) / 4 + (5 - 1) / 4) / 2)
    assert mixed.relevant_rank_median == 5  # film 4 is last
