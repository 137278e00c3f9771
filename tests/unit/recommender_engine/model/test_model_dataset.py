import numpy as np
import pandas as pd
import pytest

from recommender_engine.model.dataset import build_dataset
from recsys_common.columns import Columns


def _ratings(rows: list[tuple[str, str, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(Columns.RATINGS))


def test_maps_users_sorted_and_films_in_catalogue_order(films):
    f = films[Columns.Item]
    data = build_dataset(_ratings([("b", f[3], 8.0, 1), ("a", f[0], 2.0, 1), ("b", f[0], 10.0, 2)]), films)
    assert data.user_ids.tolist() == ["a", "b"]
    assert data.film_ids.tolist() == f.tolist()  # unrated films too
    assert data.matrix.shape == (2, len(films))
    assert data.matrix.dtype == np.float32
    assert data.matrix.toarray()[1, 3] == 8.0
    assert data.matrix.toarray()[0, 0] == 2.0
    assert data.n_ratings == 3
    assert data.films[Columns.Item].tolist() == f.tolist()


def test_the_latest_rating_of_a_pair_wins(films):
    f = films[Columns.Item]
    data = build_dataset(_ratings([("a", f[1], 9.0, 20), ("a", f[1], 3.0, 10), ("a", f[1], 5.0, 15)]), films)
    assert data.n_ratings == 1
    assert data.matrix[0, 1] == 9.0


def test_empty_ratings_give_zero_users(films):
    data = build_dataset(_ratings([]), films)
    assert data.n_users == 0
    assert data.matrix.shape == (0, len(films))
    assert data.n_films == len(films)


def test_unknown_films_are_named_with_their_count(films):
    rows = [("a", "not-a-film", 5.0, 1), ("b", "not-a-film", 5.0, 1), ("a", "other", 6.0, 1)]
    with pytest.raises(ValueError, match=r"3 rating\(s\) name 2 film id\(s\) missing.*not-a-film"):
        build_dataset(_ratings(rows), films)


@pytest.mark.parametrize("value", [0.5, 11.0, float("nan")])
def test_ratings_off_the_scale_are_refused(films, value):
    with pytest.raises(ValueError, match=r"outside the scale 1\.\.10"):
        build_dataset(_ratings([("a", films[Columns.Item][0], value, 1)]), films)


def test_repeated_film_ids_in_the_catalogue_are_refused(films):
    doubled = pd.concat([films, films.iloc[:2]])
    with pytest.raises(ValueError, match="repeats 2 film id"):
        build_dataset(_ratings([]), doubled)


def test_missing_columns_are_named(films):
    with pytest.raises(ValueError, match=r"ratings frame lacks column\(s\) \['rating'\]"):
        build_dataset(pd.DataFrame({Columns.User: ["a"], Columns.Item: [films[Columns.Item][0]]}), films)


def test_with_ratings_lays_out_other_ratings_on_the_same_maps(films):
    f = films[Columns.Item]
    data = build_dataset(_ratings([("a", f[0], 5.0, 1), ("b", f[1], 5.0, 1)]), films)
    test = data.with_ratings(_ratings([("b", f[4], 7.0, 2)]))
    assert test.shape == data.matrix.shape
    assert test[1, 4] == 7.0
    assert test.nnz == 1
    with pytest.raises(ValueError, match="unknown user id"):
        data.with_ratings(_ratings([("stranger", f[4], 7.0, 2)]))
