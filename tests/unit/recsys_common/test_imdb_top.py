"""The one IMDb-top ranking: weighted rating first, unknown films last, then RT rating, title, id."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_common.domain import Film
from recsys_common.imdb_top import imdb_order, imdb_top, imdb_top_of

NAN = float("nan")

FILMS = [
    Film("a", "A", genres=("Drama",), imdb_rating=6.0, imdb_votes=1000),
    Film("b", "B", genres=("Comedy", "Drama"), imdb_rating=9.5, imdb_votes=5),  # high rating, few votes
    Film("c", "C", genres=("Comedy",), imdb_rating=8.0, imdb_votes=50000),
    Film("d", "D", genres=(), rt_rating=90.0),  # no IMDb data
    Film("e", "E", genres=("Drama",), imdb_rating=7.0, imdb_votes=20000),
]


def test_weighted_rating_ranks_and_films_without_imdb_data_come_last():
    lists = imdb_top_of(FILMS, limit=5)
    assert lists.overall[0] == "c"
    assert lists.overall[-1] == "d"
    # prior: m = 90th percentile of votes (41,000), C = 7.625; b (9.5 on 5 votes) stays near C
    assert lists.overall[:2] == ("c", "b")
    # a (6.0 on 1k votes) is pulled up to 7.59, e (7.0 on 20k votes) only to 7.42
    assert lists.by_genre == {"Comedy": ("c", "b"), "Drama": ("b", "a", "e")}


def test_limit_cuts_every_list():
    lists = imdb_top_of(FILMS, limit=1)
    assert lists.overall == ("c",)
    assert lists.by_genre == {"Comedy": ("c",), "Drama": ("b",)}


def test_ties_go_to_rt_rating_then_title_then_film_id():
    films = [
        Film("z", "Same", imdb_rating=7.0, imdb_votes=100),
        Film("y", "Same", imdb_rating=7.0, imdb_votes=100),
        Film("x", "Alpha", imdb_rating=7.0, imdb_votes=100),
        Film("w", "Zulu", imdb_rating=7.0, imdb_votes=100, rt_rating=50.0),
    ]
    assert imdb_top_of(films, limit=4).overall == ("w", "x", "y", "z")


def test_order_without_any_imdb_data_falls_back_to_rt_then_title():
    order = imdb_order(["p", "q", "r"], ["B", "A", "C"], np.full(3, NAN), np.full(3, NAN), np.array([NAN, NAN, 10.0]))
    assert order.tolist() == [2, 1, 0]


def test_frame_arrays_and_domain_films_give_the_same_lists():
    arrays = imdb_top(
        [f.film_id for f in FILMS],
        [f.title for f in FILMS],
        [f.genres for f in FILMS],
        np.array([NAN if f.imdb_rating is None else f.imdb_rating for f in FILMS]),
        np.array([NAN if f.imdb_votes is None else float(f.imdb_votes) for f in FILMS]),
        np.array([NAN if f.rt_rating is None else f.rt_rating for f in FILMS]),
        limit=3,
    )
    assert arrays == imdb_top_of(FILMS, limit=3)


def test_limit_must_be_positive():
    with pytest.raises(ValueError, match="limit"):
        imdb_top_of(FILMS, limit=0)


def test_popularity_ranks_films_right_after_the_weighted_rating():
    ids, titles = ["a", "b", "c", "d"], ["A", "B", "C", "D"]
    rating = np.array([7.0, NAN, NAN, NAN])
    votes = np.array([100.0, NAN, NAN, NAN])
    rt = np.array([NAN, 90.0, NAN, NAN])
    popularity = np.array([0.0, 1.0, 5.0, 3.0])
    # a has IMDb data; the others tie on it and go by popularity, before RT (b has the best RT)
    assert imdb_order(ids, titles, rating, votes, rt, popularity).tolist() == [0, 2, 3, 1]
    assert imdb_order(ids, titles, rating, votes, rt).tolist() == [0, 1, 2, 3]


def test_popularity_ranks_a_catalogue_without_imdb_data_overall_and_per_genre():
    none = np.full(3, NAN)
    lists = imdb_top(
        ["x", "y", "z"],
        ["X", "Y", "Z"],
        [("Drama",), ("Drama",), ("Comedy",)],
        none,
        none,
        none,
        3,
        np.array([1, 7, 4]),
    )
    assert lists.overall == ("y", "z", "x")
    assert lists.by_genre == {"Comedy": ("z",), "Drama": ("y", "x")}


def test_popularity_must_match_the_films():
    with pytest.raises(ValueError, match="popularity"):
        imdb_order(["a"], ["A"], np.array([NAN]), np.array([NAN]), np.array([NAN]), np.array([1.0, 2.0]))
