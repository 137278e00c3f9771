"""Per-user random train/test split of a ratings frame (deterministic for a seed)."""

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
