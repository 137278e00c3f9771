from __future__ import annotations

import numpy as np
import pytest

from recsys_common.bayes import catalogue_prior, weighted_rating


def test_weighted_rating_pulls_few_votes_towards_the_mean() -> None:
    rating = np.array([9.8, 8.9, 6.0])
    votes = np.array([50.0, 1_200_000.0, 0.0])
    score = weighted_rating(rating, votes, min_votes=1_000.0, mean=7.0)
    assert score[0] == pytest.approx((50 * 9.8 + 1_000 * 7.0) / 1_050)
    assert score[1] == pytest.approx((1_200_000 * 8.9 + 1_000 * 7.0) / 1_201_000)
    assert score[2] == 7.0  # no votes: the mean
    assert score[1] > score[0]


def test_unknown_values_give_nan_and_no_prior_weight_gives_the_mean() -> None:
    score = weighted_rating(np.array([np.nan, 8.0, 5.0]), np.array([10.0, np.nan, 0.0]), min_votes=0.0, mean=6.5)
    assert np.isnan(score[0])
    assert np.isnan(score[1])
    assert score[2] == 6.5


@pytest.mark.parametrize(("votes", "min_votes", "message"), [([-1.0], 1.0, "votes"), ([1.0], -1.0, "min_votes")])
def test_negative_counts_are_refused(votes, min_votes, message) -> None:
    with pytest.raises(ValueError, match=message):
        weighted_rating(np.array([5.0]), np.array(votes), min_votes=min_votes, mean=5.0)


def test_prior_is_the_quantile_of_votes_and_mean_rating_over_films_with_both() -> None:
    rating = np.array([8.0, 6.0, np.nan, 7.0])
    votes = np.array([100.0, 300.0, 1e9, np.nan])
    assert catalogue_prior(rating, votes, quantile=0.5) == (200.0, 7.0)
    m, c = catalogue_prior(np.array([np.nan]), np.array([np.nan]))
    assert m == 0.0
    assert np.isnan(c)
