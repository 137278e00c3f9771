import math

import numpy as np
import pytest
import scipy.sparse as sp

from recommender_engine.evaluation.metrics import MetricAccumulator


def _relevant(rows: list[list[int]], n_films: int) -> sp.csr_matrix:
    data = [(r, c) for r, cols in enumerate(rows) for c in cols]
    r, c = zip(*data, strict=True) if data else ((), ())
    return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(rows), n_films))


def test_hand_computed_values():
    # user 0: relevant {1, 3, 5}; top [1, 2, 3] -> hits at ranks 1 and 3
    # user 1: relevant {7};       top [0, 7, -1] -> hit at rank 2, padding never hits
    acc = MetricAccumulator(k=3, n_films=10)
    acc.add(np.array([[1, 2, 3], [0, 7, -1]]), _relevant([[1, 3, 5], [7]], 10))
    got = acc.result()
    d = [1 / math.log2(i + 1) for i in (1, 2, 3)]
    assert got.precision == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert got.recall == pytest.approx((2 / 3 + 1 / 1) / 2)
    assert got.ndcg == pytest.approx(((d[0] + d[2]) / sum(d) + d[1] / d[0]) / 2)
    assert got.map == pytest.approx(((1 + 2 / 3) / 3 + (1 / 2) / 1) / 2)
    assert got.coverage == pytest.approx(5 / 10)  # films 0, 1, 2, 3, 7
    assert got.n_users == 2


def test_users_without_relevant_films_are_not_averaged_but_count_for_coverage():
    acc = MetricAccumulator(k=2, n_films=4)
    acc.add(np.array([[0, 1], [2, 3]]), _relevant([[0, 1], []], 4))
    got = acc.result()
    assert got.n_users == 1
    assert got.precision == pytest.approx(1.0)
    assert got.ndcg == pytest.approx(1.0)
    assert got.map == pytest.approx(1.0)
    assert got.coverage == pytest.approx(1.0)


def test_blocks_accumulate_like_one_call():
    rng = np.random.default_rng(0)
    top = np.stack([rng.permutation(20)[:5] for _ in range(8)])
    relevant = sp.csr_matrix((rng.random((8, 20)) < 0.3).astype(float))
    whole = MetricAccumulator(k=5, n_films=20)
    whole.add(top, relevant)
    parts = MetricAccumulator(k=5, n_films=20)
    parts.add(top[:3], relevant[:3])
    parts.add(top[3:], relevant[3:])
    assert vars(whole.result()) == pytest.approx(vars(parts.result()))


def test_mismatched_shapes_are_refused():
    acc = MetricAccumulator(k=2, n_films=4)
    with pytest.raises(ValueError, match="relevance rows"):
        acc.add(np.array([[0, 1]]), _relevant([[0], [1]], 4))
    with pytest.raises(ValueError, match="expected 2"):
        acc.add(np.array([[0, 1, 2]]), _relevant([[0]], 4))


def test_lists_shorter_than_the_depth_are_padded_and_never_hit():
    short = MetricAccumulator(k=3, n_films=2, curve_depth=4)
    short.add(np.array([[0, 1]]), _relevant([[1]], 2))
    padded = MetricAccumulator(k=3, n_films=2, curve_depth=4)
    padded.add(np.array([[0, 1, -1, -1]]), _relevant([[1]], 2))
    assert vars(short.result()) == pytest.approx(vars(padded.result()))
    assert short.curves() == padded.curves()


def test_curves_come_from_the_same_lists_and_match_the_metrics_at_each_k():
    rng = np.random.default_rng(1)
    top = np.stack([rng.permutation(30)[:8] for _ in range(12)])
    dense = (rng.random((12, 30)) < 0.2).astype(float)
    dense[0] = 0  # a user without relevant films is not averaged
    relevant = sp.csr_matrix(dense)
    deep = MetricAccumulator(k=3, n_films=30, curve_depth=8)
    assert deep.depth == 8
    deep.add(top, relevant)
    curves = deep.curves()
    assert curves["k"] == list(range(1, 9))
    for j in range(1, 9):
        single = MetricAccumulator(k=j, n_films=30)
        single.add(top[:, :j], relevant)
        assert curves["precision"][j - 1] == pytest.approx(single.result().precision)
        assert curves["ndcg"][j - 1] == pytest.approx(single.result().ndcg)
    at_k = MetricAccumulator(k=3, n_films=30)
    at_k.add(top[:, :3], relevant)
    assert vars(deep.result()) == pytest.approx(vars(at_k.result()))  # coverage too: first k columns only
