import numpy as np
import pytest
import scipy.sparse as sp

from recommender_engine.ranking import (
    MIN_COLUMNS_FOR_PIVOT,
    GenreIndex,
    mask_seen,
    rank_block,
    rank_lists,
    select_top_k,
)


def _reference(scores: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.where(np.isfinite(np.take_along_axis(scores, order, axis=1)), order, -1)


def _seen(n: int, m: int, per_row: int, rng: np.random.Generator) -> sp.csr_matrix:
    rows = np.repeat(np.arange(n), per_row)
    cols = rng.integers(0, m, n * per_row)
    return sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n, m))


@pytest.mark.parametrize("n_films", [7, 300, MIN_COLUMNS_FOR_PIVOT + 1, 20_000])
@pytest.mark.parametrize("rounding", [None, 1])
def test_rank_block_matches_a_full_stable_sort(n_films, rounding):
    rng = np.random.default_rng(n_films)
    scores = rng.standard_normal((64, n_films)).astype(np.float32)
    if rounding is not None:
        scores = np.round(scores, rounding)  # many ties: lower film index must win
    seen = _seen(64, n_films, 5, rng)
    expected_scores = scores.copy()
    mask_seen(expected_scores, seen)
    got, got_scores = rank_block(scores, seen, 100)
    assert np.array_equal(got, _reference(expected_scores, 100))
    valid = got >= 0
    assert np.array_equal(got_scores[valid], np.take_along_axis(expected_scores, np.maximum(got, 0), 1)[valid])


def test_seen_films_are_never_returned():
    rng = np.random.default_rng(0)
    scores = rng.standard_normal((50, 5000)).astype(np.float32)
    seen = _seen(50, 5000, 200, rng)
    top, _ = rank_block(scores, seen, 100)
    for row in range(50):
        assert not set(top[row]) & set(seen[row].indices)


def test_rows_with_fewer_candidates_than_k_are_padded():
    scores = np.full((3, 4000), -np.inf, dtype=np.float32)
    scores[0, [5, 9]] = [1.0, 2.0]
    scores[2, :] = 0.5  # all tied
    top, values = select_top_k(scores, 3)
    assert top[0].tolist() == [9, 5, -1]
    assert top[1].tolist() == [-1, -1, -1]
    assert top[2].tolist() == [0, 1, 2]
    assert values[0, 2] == -np.inf


def test_k_larger_than_catalogue_returns_every_film():
    scores = np.array([[0.1, 0.3, 0.2]], dtype=np.float32)
    top, _ = select_top_k(scores, 10)
    assert top.tolist() == [[1, 2, 0]]


def test_mask_seen_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        mask_seen(np.zeros((2, 3), dtype=np.float32), sp.csr_matrix(np.zeros((2, 4), dtype=np.float32)))


@pytest.mark.parametrize("pool", [1, 12, 60])
def test_rank_lists_equals_brute_force_per_group(pool):
    rng = np.random.default_rng(pool)
    n, m = 40, 300
    scores = np.round(rng.standard_normal((n, m)), 1).astype(np.float32)
    seen = _seen(n, m, 30, rng)
    membership = rng.random((m, 4)) < [0.5, 0.1, 0.02, 0.0]
    groups = [np.flatnonzero(membership[:, g]).astype(np.int32) for g in range(4)]
    expected = scores.copy()
    mask_seen(expected, seen)
    top, by_genre = rank_lists(scores, seen, 10, GenreIndex(groups, m), 5, pool)
    assert np.array_equal(top, _reference(expected, 10))
    for g, columns in enumerate(groups):
        ref = _reference(expected[:, columns], 5) if columns.size else np.full((n, 0), -1)
        ref = np.where(ref >= 0, columns[np.maximum(ref, 0)] if columns.size else ref, -1)
        want = np.full((n, 5), -1)
        want[:, : ref.shape[1]] = ref
        assert np.array_equal(by_genre[:, g], want), g
