import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recommender_engine.evaluation.similar import (
    ENGINE,
    cosine_top,
    genre_overlap_top,
    random_top,
    run_similar,
    similarity_metrics,
)
from recommender_engine.model.dataset import build_dataset
from recommender_engine.model.hybrid import ModelConfig
from recsys_common.columns import Columns
from recsys_common.ids import film_id_for

SMALL = ModelConfig(epochs=10, no_components=8, num_threads=1)


def _users(rows: list[list[int]], n_films: int) -> sp.csr_matrix:
    data = [(u, f) for u, films in enumerate(rows) for f in films]
    users, films = zip(*data, strict=True)
    return sp.csr_matrix((np.ones(len(data)), (users, films)), shape=(len(rows), n_films))


def test_metrics_by_hand() -> None:
    top = np.array([[1, 2], [0, -1], [1, 0], [2, 1]])
    train = _users([[0], [1, 3], [3], [2]], 4)
    test = _users([[2], [0], [0], []], 4)
    metrics = similarity_metrics(top, train, test, k=2)
    # users 0 and 1 find a test film among their candidates, user 2 does not; user 3 has no test film
    assert metrics.user_hit_rate == pytest.approx(2 / 3)
    assert metrics.pair_hit_rate == pytest.approx(2 / 4)  # (0, 0) and (1, 1) hit; (1, 3) and (2, 3) do not
    assert metrics.precision == pytest.approx(2 / 7)  # film 1's list shows one film only
    assert metrics.coverage == pytest.approx(3 / 4)  # film 3 is nobody's similar film


def test_the_candidates_are_capped_at_k_by_summed_rank_points() -> None:
    # the user's two training films both list film 2 second: 1 + 1 points beat film 3's 2 + 0 only on ties
    top = np.array([[3, 2], [4, 2], [0, 1], [0, 1], [0, 1]])
    train = _users([[0, 1]], 5)
    assert similarity_metrics(top, train, _users([[2]], 5), k=2).user_hit_rate == 1.0  # 2 points, with 3 and 4
    assert similarity_metrics(top, train, _users([[2]], 5), k=1).user_hit_rate == 0.0  # film 3 wins the tie


def test_genre_overlap_is_jaccard_with_ties_by_ratings() -> None:
    genres = [("A",), ("A", "B"), ("A",), ("B",), ("A",)]
    films = pd.DataFrame(
        {
            Columns.Item: [film_id_for(f"g:{i}") for i in range(5)],
            Columns.Title: [f"F{i}" for i in range(5)],
            Columns.Genres: genres,
        }
    )
    ratings = pd.DataFrame(
        [(f"u{u}", films[Columns.Item][4], 5.0, 0) for u in range(3)] + [("u0", films[Columns.Item][2], 5.0, 0)],
        columns=list(Columns.RATINGS),
    )
    top = genre_overlap_top(build_dataset(ratings, films), k=4)
    assert top[0].tolist() == [4, 2, 1, 3]  # Jaccard 1 (more ratings first), then 1/2, then 0
    assert top[3].tolist()[:1] == [1]


def test_co_occurrence_finds_films_rated_by_the_same_users() -> None:
    ratings = _users([[0, 1], [0, 1, 2], [2, 3], [3], [0, 1]], 4)
    top = cosine_top(sp.csr_matrix(ratings.T), k=2)
    assert top[0, 0] == 1 and top[1, 0] == 0
    assert top[3, 0] == 2
    assert not (top == np.arange(4)[:, None]).any()


def test_random_lists_never_hold_the_film_itself() -> None:
    top = random_top(30, k=20, seed=1)
    assert top.shape == (30, 20) and not (top == np.arange(30)[:, None]).any()
    assert all(len(set(row)) == 20 for row in top.tolist())


def test_the_engines_similar_films_beat_random_ones(ratings: pd.DataFrame, films: pd.DataFrame) -> None:
    report = run_similar(ratings, films, k=5, engine_config=SMALL, ease_weights=(0.0,))
    results = {r.name: r.metrics for r in report.results}
    assert set(results) == {"engine_ease_0", ENGINE, "genre_overlap", "co_occurrence", "random"}
    for name in ("engine_ease_0", ENGINE):
        assert results[name].precision > 1.5 * results["random"].precision, name
        assert results[name].pair_hit_rate > results["random"].pair_hit_rate, name
        assert results[name].user_hit_rate > 1.5 * results["random"].user_hit_rate, name
    payload = report.to_dict()
    assert payload["results"][ENGINE]["config"] == {"ease_weight": 1.0}
    assert payload["dataset"]["test_users"] == report.dataset["users"]
    assert "user hit@5" in report.to_table()
