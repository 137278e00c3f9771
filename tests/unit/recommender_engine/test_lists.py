import numpy as np
import pandas as pd
import scipy.sparse as sp

from recommender_engine.lists import cold_start_lists, genre_groups, personal_lists
from recommender_engine.ranking import GenreIndex
from recsys_common.bayes import catalogue_prior, weighted_rating
from recsys_common.columns import Columns

NAN = float("nan")


def _films() -> pd.DataFrame:
    return pd.DataFrame(
        {
            Columns.Item: ["a", "b", "c", "d", "e"],
            Columns.Title: ["A", "B", "C", "D", "E"],
            Columns.Genres: [("Drama",), ("Comedy", "Drama"), ("Comedy",), (), ("Drama",)],
            # b: high rating, few votes; c: good rating, many votes
            Columns.ImdbRating: [6.0, 9.5, 8.0, NAN, 7.0],
            Columns.ImdbVotes: [1000.0, 5.0, 50000.0, NAN, 20000.0],
            Columns.RtRating: [NAN, NAN, NAN, 90.0, NAN],
        }
    )


def test_weighted_rating_shrinks_films_with_few_votes_toward_the_mean():
    wr = weighted_rating(np.array([9.5, 8.0]), np.array([5.0, 50000.0]), min_votes=1000.0, mean=7.0)
    assert wr[0] < wr[1]
    assert 7.0 < wr[0] < 7.1
    assert np.isnan(weighted_rating(np.array([NAN]), np.array([3.0]), 1.0, 7.0))[0]


def test_catalogue_prior_ignores_unknown_films():
    min_votes, mean = catalogue_prior(np.array([6.0, NAN, 8.0]), np.array([10.0, 5.0, 30.0]), quantile=0.5)
    assert (min_votes, mean) == (20.0, 7.0)


def test_cold_start_lists_overall_and_per_genre():
    lists = cold_start_lists(_films(), limit=2)
    # prior: m = 90th percentile of votes (41,000), C = 7.625; b (9.5 on 5 votes) stays near C
    assert lists.overall == ("c", "b")
    assert lists.by_genre["Comedy"] == ("c", "b")
    assert lists.by_genre["Drama"] == ("b", "a")
    assert set(lists.by_genre) == {"Comedy", "Drama"}


def test_genre_groups_are_sorted_with_member_positions():
    names, groups = genre_groups(_films())
    assert names == ["Comedy", "Drama"]
    assert [g.tolist() for g in groups] == [[1, 2], [0, 1, 4]]


def test_personal_lists_never_contain_seen_films_and_threads_agree():
    rng = np.random.default_rng(1)
    n_users, n_films = 300, 3000
    users_f = rng.standard_normal((n_users, 8)).astype(np.float32)
    films_f = rng.standard_normal((n_films, 8)).astype(np.float32)
    seen = sp.csr_matrix((rng.random((n_users, n_films)) < 0.01).astype(np.float32))
    groups = GenreIndex([np.arange(0, n_films, 3, dtype=np.int32), np.arange(1, 50, dtype=np.int32)], n_films)

    def score(users):
        return users_f[users] @ films_f.T

    single = list(personal_lists(score, seen, groups, 20, 5, block_size=64, threads=1))
    threaded = list(personal_lists(score, seen, groups, 20, 5, block_size=64, threads=2))
    assert [b.users.tolist() for b in single] == [b.users.tolist() for b in threaded]
    assert sum(len(b.users) for b in single) == n_users
    for a, b in zip(single, threaded, strict=True):
        assert np.array_equal(a.must_watch, b.must_watch)
        assert np.array_equal(a.by_genre, b.by_genre)
    for block in single:
        for row, user in enumerate(block.users):
            rated = set(seen[user].indices)
            assert not rated & set(block.must_watch[row])
            assert not rated & set(block.by_genre[row].ravel()) - {-1}
            assert set(block.by_genre[row, 1]) - {-1} <= set(range(1, 50))
