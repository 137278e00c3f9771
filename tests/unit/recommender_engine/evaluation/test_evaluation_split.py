import pandas as pd
import pytest

from recommender_engine.evaluation.split import split_per_user, split_temporal_per_user
from recsys_common.columns import Columns


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame[Columns.User], frame[Columns.Item], strict=True))


def test_each_user_is_split_by_the_fraction(ratings):
    train, test = split_per_user(ratings, 0.25, 42)
    assert len(train) + len(test) == len(ratings)
    assert _pairs(train) | _pairs(test) == _pairs(ratings)
    assert not _pairs(train) & _pairs(test)
    assert (test.groupby(Columns.User).size() == 3).all()  # round(12 * 0.25)
    assert (train.groupby(Columns.User).size() == 9).all()


def test_the_split_is_deterministic_and_ignores_row_order(ratings):
    train, test = split_per_user(ratings, 0.25, 42)
    shuffled = ratings.sample(frac=1.0, random_state=5)
    train2, test2 = split_per_user(shuffled, 0.25, 42)
    assert _pairs(test) == _pairs(test2)
    assert _pairs(train) == _pairs(train2)
    _, other = split_per_user(ratings, 0.25, 43)
    assert _pairs(other) != _pairs(test)


def test_a_user_always_keeps_a_training_rating():
    frame = pd.DataFrame(
        [("solo", "f1", 5.0, 1), ("pair", "f1", 5.0, 1), ("pair", "f2", 5.0, 1)], columns=list(Columns.RATINGS)
    )
    train, test = split_per_user(frame, 0.9, 0)
    assert set(train[Columns.User]) == {"solo", "pair"}
    assert test[Columns.User].tolist() == ["pair"]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_a_fraction_outside_the_open_interval_is_refused(ratings, fraction):
    with pytest.raises(ValueError, match="test fraction"):
        split_per_user(ratings, fraction, 42)


def test_the_temporal_split_puts_each_users_newest_ratings_in_test(ratings):
    timed = ratings.copy()
    # distinct times per user, unrelated to the film so the newest are not the highest film ids
    timed[Columns.Timestamp] = [(hash(film) % 1000) * 10 + i % 7 for i, film in enumerate(timed[Columns.Item])]
    train, test = split_temporal_per_user(timed, 0.3)
    assert len(train) + len(test) == len(timed)
    assert not _pairs(train) & _pairs(test)  # no test rating leaks into train
    assert _pairs(train) | _pairs(test) == _pairs(timed)
    assert (test.groupby(Columns.User).size() == 4).all()  # round(12 * 0.3)
    newest_train = train.groupby(Columns.User)[Columns.Timestamp].max()
    oldest_test = test.groupby(Columns.User)[Columns.Timestamp].min()
    assert (newest_train <= oldest_test.reindex(newest_train.index)).all()
    for user, group in timed.groupby(Columns.User):
        expected = group.sort_values([Columns.Timestamp, Columns.Item]).tail(4)
        assert _pairs(expected) == _pairs(test[test[Columns.User] == user])


def test_the_temporal_split_breaks_ties_by_film_and_ignores_row_order_and_seed():
    rows = [("u", f"film-{i}", 5.0, 100) for i in range(10)] + [("single", "film-0", 3.0, 50)]
    ratings = pd.DataFrame(rows, columns=list(Columns.RATINGS))
    train, test = split_temporal_per_user(ratings, 0.3)
    assert set(test[Columns.Item]) == {"film-7", "film-8", "film-9"}  # same time: the last films by id
    assert "single" not in set(test[Columns.User])  # one rating: kept in train
    train2, test2 = split_temporal_per_user(ratings.sample(frac=1.0, random_state=3), 0.3, seed=7)
    assert _pairs(test2) == _pairs(test) and _pairs(train2) == _pairs(train)
    with pytest.raises(ValueError, match="test fraction"):
        split_temporal_per_user(ratings, 1.0)
