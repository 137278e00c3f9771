"""Compact encoding of a user's lists: film *indices* into the version's film table.

A user's record is a fixed-length little-endian array of ``must_watch_len + len(genres) *
genre_len`` indices (uint16 when the catalogue has fewer than 65,535 films, else uint32); the
padding value is the dtype's maximum. 100 must-watch films and 18 genres x 20 films take 920 bytes.

A layout with ``reasons`` (versions published since reasons exist) appends ``must_watch_len`` more
indices: for each must-watch film, the rated film behind it ("because you rated ..."), padding for
none (1,120 bytes in the example above). Older layouts (no ``reasons`` in their metadata) read as
before, without reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recsys_common.domain import UserLists

UINT16_LIMIT = 0xFFFF


@dataclass(frozen=True)
class ListLayout:
    must_watch_len: int
    genre_len: int
    genres: tuple[str, ...]
    index_bytes: int  # 2 or 4
    #: Whether records end with the must-watch films' reasons (False in versions published before).
    reasons: bool = False

    @staticmethod
    def for_catalogue(
        n_films: int, must_watch_len: int, genre_len: int, genres: Sequence[str], reasons: bool = False
    ) -> ListLayout:
        index_bytes = 2 if n_films < UINT16_LIMIT else 4
        return ListLayout(must_watch_len, genre_len, tuple(genres), index_bytes, reasons)

    @property
    def dtype(self) -> np.dtype[np.unsignedinteger]:
        return np.dtype("<u2") if self.index_bytes == 2 else np.dtype("<u4")

    @property
    def pad(self) -> int:
        return int(np.iinfo(self.dtype).max)

    @property
    def reasons_start(self) -> int:
        """Position of the reasons in a record (they follow the genre lists)."""
        return self.must_watch_len + len(self.genres) * self.genre_len

    @property
    def record_len(self) -> int:
        return self.reasons_start + (self.must_watch_len if self.reasons else 0)

    @property
    def record_bytes(self) -> int:
        return self.record_len * self.index_bytes


def encode_block(
    must_watch: npt.NDArray[np.integer],
    by_genre: npt.NDArray[np.integer] | None,
    layout: ListLayout,
    reasons: npt.NDArray[np.integer] | None = None,
) -> list[bytes]:
    """Encode a block of users. ``must_watch`` is (n, <=must_watch_len), ``by_genre`` is
    (n, len(genres), <=genre_len), ``reasons`` (n, <=must_watch_len) the rated film behind each
    must-watch film (kept only when the layout has reasons); negative entries mean "no film"."""
    n = must_watch.shape[0]
    out = np.full((n, layout.record_len), layout.pad, dtype=layout.dtype)
    width = min(must_watch.shape[1], layout.must_watch_len)
    out[:, :width] = np.where(must_watch[:, :width] < 0, layout.pad, must_watch[:, :width])
    if reasons is not None and layout.reasons:
        if reasons.shape[0] != n:
            raise ValueError(f"reasons have {reasons.shape[0]} rows, must_watch {n}")
        r_width = min(reasons.shape[1], width)
        part = reasons[:, :r_width]
        # a reason only where there is a film to give it for
        missing = (part < 0) | (must_watch[:, :r_width] < 0)
        out[:, layout.reasons_start : layout.reasons_start + r_width] = np.where(missing, layout.pad, part)
    if by_genre is not None and layout.genres:
        if by_genre.shape[1] != len(layout.genres):
            raise ValueError(f"by_genre has {by_genre.shape[1]} genres, layout has {len(layout.genres)}")
        g_width = min(by_genre.shape[2], layout.genre_len)
        block = np.full((n, len(layout.genres), layout.genre_len), layout.pad, dtype=layout.dtype)
        part = by_genre[:, :, :g_width]
        block[:, :, :g_width] = np.where(part < 0, layout.pad, part)
        out[:, layout.must_watch_len : layout.reasons_start] = block.reshape(n, -1)
    raw = out.tobytes()
    size = layout.record_bytes
    return [raw[i * size : (i + 1) * size] for i in range(n)]


def decode(record: bytes, layout: ListLayout, films: Sequence[str]) -> UserLists:
    """Decode one user's record into film ids; raise ValueError when it does not fit the layout."""
    if len(record) != layout.record_bytes:
        raise ValueError(f"record has {len(record)} bytes, layout expects {layout.record_bytes}")
    # Plain Python ints: indexing ``films`` with numpy scalars costs ~10x more (this is the API's hot path).
    values: list[int] = np.frombuffer(record, dtype=layout.dtype).tolist()
    pad = layout.pad

    def ids(part: list[int]) -> tuple[str, ...]:
        try:
            return tuple([films[i] for i in part if i != pad])
        except IndexError:
            bad = max(i for i in part if i != pad)
            raise ValueError(f"record refers to film index {bad}, the film table has {len(films)} films") from None

    must_watch = ids(values[: layout.must_watch_len])
    by_genre: dict[str, tuple[str, ...]] = {}
    start = layout.must_watch_len
    for genre in layout.genres:
        chosen = ids(values[start : start + layout.genre_len])
        if chosen:
            by_genre[genre] = chosen
        start += layout.genre_len
    reasons: dict[str, str] = {}
    if layout.reasons:
        pairs = zip(values[: layout.must_watch_len], values[layout.reasons_start :], strict=True)
        kept = [(film, because) for film, because in pairs if film != pad and because != pad]
        found = ids([index for pair in kept for index in pair])
        reasons = dict(zip(found[::2], found[1::2], strict=True))
    return UserLists(must_watch=must_watch, by_genre=by_genre, reasons=reasons)


#: Index dtypes and padding values by index width, looked up once (the API's hot path decodes per request).
_DTYPES: dict[int, np.dtype[np.unsignedinteger]] = {2: np.dtype("<u2"), 4: np.dtype("<u4")}
_PADS = {width: int(np.iinfo(dtype).max) for width, dtype in _DTYPES.items()}


def decode_list(
    record: bytes, layout: ListLayout, films: Sequence[str], genre: str | None, limit: int | None = None
) -> tuple[str, ...]:
    """One list of a user's record as film ids: the must-watch list (``genre`` None) or that genre's
    (empty for a genre outside the layout), ``limit`` ids at most. The API answers one list per
    request: decoding only it costs a fifth of ``decode``. ValueError when the record does not fit."""
    if len(record) != layout.record_bytes:
        raise ValueError(f"record has {len(record)} bytes, layout expects {layout.record_bytes}")
    if genre is None:
        start, length = 0, layout.must_watch_len
    elif genre in layout.genres:
        start, length = layout.must_watch_len + layout.genres.index(genre) * layout.genre_len, layout.genre_len
    else:
        return ()
    dtype = _DTYPES[layout.index_bytes]
    values: list[int] = np.frombuffer(record, dtype=dtype, count=length, offset=start * layout.index_bytes).tolist()
    pad = _PADS[layout.index_bytes]
    wanted = length if limit is None else limit
    ids: list[str] = []
    if wanted <= 0:
        return ()
    try:
        for index in values:
            if index != pad:
                ids.append(films[index])
                if len(ids) == wanted:  # the API asks for 20 of 100: stop there
                    break
    except IndexError:
        bad = max(i for i in values if i != pad)
        raise ValueError(f"record refers to film index {bad}, the film table has {len(films)} films") from None
    return tuple(ids)
