import pandas as pd
import pytest

from recommender_engine.evaluation.split import split_per_user
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
