"""List building: genre groups, cold-start IMDb-top lists, and personal lists per block of users.

Pure functions over arrays and frames: no server client, no settings.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recommender_engine.ranking import GenreIndex, IndexArray, rank_lists
from recsys_common.columns import Columns
from recsys_common.domain import ColdStartLists
from recsys_common.imdb_top import imdb_top
from recsys_common.ports.recstore import VersionWriter

#: Blocks computed ahead of the consumer per thread (bounds memory when publishing is slower).
PREFETCH_PER_THREAD = 2
#: The pool holds this many candidates per genre-list slot beyond must_watch.
POOL_PER_GENRE_SLOT = 1

ScoreFn = Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]]
#: (the block's rows of the seen-ratings matrix, the block's must_watch) -> the rated film behind each
#: recommendation, (n, must_watch_len) film indices, -1 = none (``HybridModel.reasons``).
ReasonFn = Callable[[sp.csr_matrix, IndexArray], npt.NDArray[np.integer]]


def genre_groups(films: pd.DataFrame) -> tuple[list[str], list[IndexArray]]:
    """Sorted genre names and, for each, the film indices (positions in ``films``) of that genre."""
    members: dict[str, list[int]] = {}
    for position, genres in enumerate(films[Columns.Genres]):
        for genre in genres:
            members.setdefault(str(genre), []).append(position)
    names = sorted(members)
    return names, [np.asarray(members[name], dtype=np.int32) for name in names]


def cold_start_lists(
    films: pd.DataFrame, limit: int, popularity: npt.NDArray[np.floating] | None = None
) -> ColdStartLists:
    """IMDb-top overall and per genre, as film ids (``recsys_common.imdb_top``, the ranking every
    service uses); ``popularity`` (ratings per film, aligned with ``films``) ranks the films that
    tie on the weighted rating, such as all films without IMDb data."""
    return imdb_top(
        films[Columns.Item].astype(str).tolist(),
        films[Columns.Title].astype(str).tolist(),
        films[Columns.Genres].tolist(),
        films[Columns.ImdbRating].to_numpy(dtype=np.float64),
        films[Columns.ImdbVotes].to_numpy(dtype=np.float64),
        films[Columns.RtRating].to_numpy(dtype=np.float64),
        limit,
        None if popularity is None else np.asarray(popularity, dtype=np.float64),
    )


@dataclass(frozen=True)
class ListBlock:
    """Personal lists of one block of users, as film indices (-1 = no film)."""

    users: npt.NDArray[np.int64]
    must_watch: IndexArray  # (n, must_watch_len)
    by_genre: IndexArray  # (n, n_genres, genre_len)
    #: (n, must_watch_len): the rated film behind each must_watch film, -1 = none.
    reasons: IndexArray


def put_list_block(writer: VersionWriter, user_ids: Sequence[str], block: ListBlock) -> None:
    """Store ``block``'s lists for ``user_ids`` (its users' ids): the one place a ListBlock meets the
    store, in-process and on Dask workers alike."""
    writer.put_block(user_ids, block.must_watch, block.by_genre, block.reasons)


def pool_size(must_watch_len: int, genre_len: int, n_groups: int) -> int:
    """Top-pool per user from which must_watch and the per-genre lists are cut."""
    return must_watch_len + POOL_PER_GENRE_SLOT * genre_len * n_groups


def list_block(
    score: ScoreFn,
    seen: sp.csr_matrix,
    genres: GenreIndex,
    users: npt.NDArray[np.int64],
    must_watch_len: int,
    genre_len: int,
    reasons: ReasonFn | None = None,
) -> ListBlock:
    """The lists of the consecutive users ``users``: one matrix product, seen films masked, ranked;
    ``reasons`` (when given) names the rated film behind each must_watch film, else they are -1."""
    scores = np.ascontiguousarray(score(users), dtype=np.float32)
    pool_len = pool_size(must_watch_len, genre_len, len(genres.groups))
    rated = seen[users[0] : users[-1] + 1]
    must_watch, by_genre = rank_lists(scores, rated, must_watch_len, genres, genre_len, pool_len)
    because = np.full(must_watch.shape, -1, dtype=np.int32)
    if reasons is not None:
        because = np.asarray(reasons(rated, must_watch), dtype=np.int32)
    return ListBlock(users, must_watch, by_genre, because)


def personal_lists(
    score: ScoreFn,
    seen: sp.csr_matrix,
    genres: GenreIndex,
    must_watch_len: int,
    genre_len: int,
    block_size: int,
    threads: int,
    reasons: ReasonFn | None = None,
) -> Iterator[ListBlock]:
    """Score every user in blocks (one matrix product per block, seen films masked) and yield the
    blocks' lists in user order. ``threads`` blocks are computed at once, each with one BLAS thread.
    ``reasons`` (when given) names the rated film behind each must_watch film; else they are -1.
    """
    n_users = seen.shape[0]
    starts = range(0, n_users, block_size)

    def compute(start: int) -> ListBlock:
        users = np.arange(start, min(start + block_size, n_users), dtype=np.int64)
        return list_block(score, seen, genres, users, must_watch_len, genre_len, reasons)

    if threads <= 1:
        yield from map(compute, starts)
        return
    in_flight: deque[Future[ListBlock]] = deque()
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as executor:
        for start in starts:
            in_flight.append(executor.submit(compute, start))
            if len(in_flight) > PREFETCH_PER_THREAD * threads:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
