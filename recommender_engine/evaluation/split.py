"""Per-user train/test splits of a ratings frame: at random (deterministic for a seed) or by time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_common.columns import Columns


def split_per_user(ratings: pd.DataFrame, test_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each user's ratings at random into (train, test).

    A user with ``n`` ratings puts ``round(n * test_fraction)`` of them in test, but always keeps
    at least one in train (so a user with a single rating is train only). The result does not depend
    on the order of the input rows: rows are ordered by (user, film) before the seeded draw.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    frame = ratings.sort_values([Columns.User, Columns.Item], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    keys = rng.random(len(frame))
    users = frame[Columns.User].to_numpy()
    order = np.lexsort((keys, users))  # by user, then by random key
    position = np.empty(len(frame), dtype=np.int64)
    sizes = frame.groupby(Columns.User, sort=True)[Columns.User].transform("size").to_numpy()
    starts = np.r_[0, np.flatnonzero(users[order][1:] != users[order][:-1]) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(frame)]))
    position[order] = np.arange(len(frame)) - group_start
    n_test = np.minimum(np.rint(sizes * test_fraction), sizes - 1)
    is_test = position < n_test
    return frame[~is_test].reset_index(drop=True), frame[is_test].reset_index(drop=True)


def split_temporal_per_user(
    ratings: pd.DataFrame, test_fraction: float, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each user's ratings by time into (train, test): the newest go to test.

    A user with ``n`` ratings puts their last ``round(n * test_fraction)`` ratings by timestamp in
    test, but always keeps at least one in train (so a user with too few ratings is train only).
    Ties in time are broken by film id, so the result does not depend on the order of the input
    rows; ``seed`` is accepted for a uniform signature and ignored.
    """
    del seed
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    frame = ratings.sort_values([Columns.User, Columns.Timestamp, Columns.Item], kind="stable").reset_index(drop=True)
    grouped = frame.groupby(Columns.User, sort=False)[Columns.User]
    sizes = grouped.transform("size").to_numpy()
    position = grouped.cumcount().to_numpy()
    n_test = np.minimum(np.rint(sizes * test_fraction), sizes - 1)
    is_test = position >= sizes - n_test
    return frame[~is_test].reset_index(drop=True), frame[is_test].reset_index(drop=True)


#: The per-user split strategies of ``run_evaluation``: name -> (ratings, test_fraction, seed) -> (train, test).
SPLITS = {"random": split_per_user, "temporal": split_temporal_per_user}
SPLIT_DESCRIPTIONS = {
    "random": "per-user random",
    "temporal": "per-user temporal (each user's newest ratings by timestamp, ties by film id)",
}
