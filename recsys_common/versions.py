"""What every RecStore adapter shares, beside the port: the JSON forms of a version's metadata and
cold-start lists, the checks and encoding of what a publish or an overlay writes, the prune rule, and
``PendingVersion``, the bookkeeping of a ``VersionWriter`` (an adapter subclasses it and stores), and
``RecordLists``, the decoding side of ``RecReader`` (an adapter mixes it in and reads records).

Nothing here touches a store.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime

import numpy as np

from recsys_common.domain import ColdStartLists, UserLists
from recsys_common.listcodec import UINT16_LIMIT, ListLayout, decode, decode_list, encode_block
from recsys_common.ports.recstore import SIMILAR_MAX, Indices, VersionMeta

#: A user's stored record and whether it is their overlay (True) or the batch's (False).
Found = tuple[bytes, bool]


# ----- JSON forms -----
def meta_to_json(meta: VersionMeta) -> str:
    return json.dumps(asdict(meta), sort_keys=True)


def meta_from_json(text: str | bytes) -> VersionMeta:
    raw = json.loads(text)
    layout = raw.pop("layout")
    layout["genres"] = tuple(layout["genres"])
    return VersionMeta(layout=ListLayout(**layout), **raw)


def cold_start_to_json(lists: ColdStartLists) -> str:
    return json.dumps({"overall": list(lists.overall), "by_genre": {g: list(v) for g, v in lists.by_genre.items()}})


def cold_start_from_json(text: str | bytes) -> ColdStartLists:
    raw = json.loads(text)
    return ColdStartLists(tuple(raw["overall"]), {g: tuple(v) for g, v in raw["by_genre"].items()})


# ----- writing -----
def utc_now_iso() -> str:
    # Microseconds, so versions committed within one second still sort in commit order.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pending_meta(meta: VersionMeta, films: Sequence[str]) -> VersionMeta:
    """The metadata of a version about to be written with the film table ``films``; ValueError when
    the films do not fit its layout."""
    if meta.layout.index_bytes == 2 and len(films) >= UINT16_LIMIT:
        raise ValueError(f"{len(films)} films do not fit a layout with 2-byte indices")
    return replace(meta, n_films=len(films))


def _check_indices(meta: VersionMeta, name: str, indices: Indices) -> None:
    """Film indices must point into the film table (negative entries are padding)."""
    if indices.size and int(indices.max()) >= meta.n_films:
        raise ValueError(
            f"{name} refers to film index {int(indices.max())}, but version {meta.version} has {meta.n_films} films"
        )


def encode_users(
    meta: VersionMeta,
    user_ids: Sequence[str],
    must_watch: Indices,
    by_genre: Indices | None,
    reasons: Indices | None = None,
) -> list[tuple[str, bytes]]:
    """(user id, record) of a block of users, after checking the block fits the version."""
    if len(user_ids) != must_watch.shape[0]:
        raise ValueError(f"{len(user_ids)} user ids for {must_watch.shape[0]} rows")
    _check_indices(meta, "must_watch", must_watch)
    if by_genre is not None:
        _check_indices(meta, "by_genre", by_genre)
    if reasons is not None:
        _check_indices(meta, "reasons", reasons)
    return list(zip(user_ids, encode_block(must_watch, by_genre, meta.layout, reasons), strict=True))


def encode_overlay(
    meta: VersionMeta, must_watch: Indices, by_genre: Indices | None, reasons: Indices | None = None
) -> bytes:
    """One user's overlay record in the committed version ``meta``: (must_watch_len,) and
    (genres, genre_len) film indices, and optionally (must_watch_len,) reasons."""
    if any(
        part is not None and int(np.max(part, initial=-1)) >= meta.n_films for part in (must_watch, by_genre, reasons)
    ):
        raise ValueError(f"an overlay refers to a film index beyond the {meta.n_films} films of {meta.version}")
    [record] = encode_block(
        must_watch[None, :],
        None if by_genre is None else by_genre[None, :],
        meta.layout,
        None if reasons is None else reasons[None, :],
    )
    return record


#: How a film's similar films are stored: their indices into the film table, little-endian int32.
SIMILAR_DTYPE = np.dtype("<i4")


def encode_similar(meta: VersionMeta, similar: Indices) -> list[bytes]:
    """One record per film (row i for film i) of the (n_films, <=SIMILAR_MAX) ``similar`` indices:
    the film's similar films in order, padding (negative entries) left out."""
    if similar.ndim != 2 or similar.shape[0] != meta.n_films or similar.shape[1] > SIMILAR_MAX:
        raise ValueError(
            f"similar films must have shape ({meta.n_films}, <={SIMILAR_MAX}) in version {meta.version}, "
            f"got {similar.shape}"
        )
    _check_indices(meta, "similar", similar)
    rows = np.asarray(similar, dtype=SIMILAR_DTYPE)
    return [row[row >= 0].tobytes() for row in rows]


def decode_similar(record: bytes, films: Sequence[str], limit: int | None) -> tuple[str, ...]:
    """The film ids of a film's similar-films record, ``limit`` at most."""
    indices = np.frombuffer(record, dtype=SIMILAR_DTYPE)[:limit]
    return tuple(films[i] for i in indices.tolist())


class PendingVersion(abc.ABC):
    """A ``VersionWriter``'s checks and counts; the adapter's subclass stores what it is given."""

    def __init__(self, meta: VersionMeta, resumed: bool = False) -> None:
        self._meta = meta
        #: A writer from ``resume``: its records replace those stored before.
        self.resumed = resumed
        self._users = 0
        self._done = False

    @property
    def meta(self) -> VersionMeta:
        return self._meta

    def put_block(
        self, user_ids: Sequence[str], must_watch: Indices, by_genre: Indices | None, reasons: Indices | None = None
    ) -> None:
        """Store lists for a block of users: film *indices* into the version's film table."""
        self._check_open()
        self._store_records(encode_users(self.meta, user_ids, must_watch, by_genre, reasons), replace=self.resumed)
        self._users += len(user_ids)

    def put_cold_start(self, lists: ColdStartLists) -> None:
        self._check_open()
        self._store_cold_start(cold_start_to_json(lists))

    def put_similar(self, similar: Indices) -> None:
        """Store every film's similar films (``encode_similar``)."""
        self._check_open()
        self._store_similar(encode_similar(self.meta, similar))

    def commit(self, users_elsewhere: int = 0) -> VersionMeta:
        """Record the metadata and flip ``current`` to this version, atomically."""
        self._check_open()
        final = replace(self.meta, n_users=self._users + users_elsewhere, published_at=utc_now_iso())
        self._store_commit(final)
        self._done = True
        return final

    def abort(self) -> None:
        """Drop what was written; the serving version is untouched."""
        if not self._done:
            self._store_drop()
            self._done = True

    def _check_open(self) -> None:
        if self._done:
            raise RuntimeError(f"version {self.meta.version} was already committed or aborted")

    @abc.abstractmethod
    def _store_records(self, records: list[tuple[str, bytes]], replace: bool) -> None:
        """Add the users' records; ValueError when a user id is already in the version (unless
        ``replace``: then its record is replaced, and ValueError when the version is no longer pending)."""

    @abc.abstractmethod
    def _store_cold_start(self, text: str) -> None: ...

    @abc.abstractmethod
    def _store_similar(self, records: list[bytes]) -> None:
        """Store the films' similar-films records (record i for film i), replacing any stored before."""

    @abc.abstractmethod
    def _store_commit(self, meta: VersionMeta) -> None:
        """Atomically: store meta, clear pending, retire the old current, set current; ValueError
        when the version is no longer pending."""

    @abc.abstractmethod
    def _store_drop(self) -> None: ...


# ----- reading -----
class RecordLists(abc.ABC):
    """``RecReader.user_lists`` and ``user_list`` over the adapter's ``films`` and its one read of a
    user's record."""

    @abc.abstractmethod
    def films(self, version: str) -> tuple[str, ...]: ...

    @abc.abstractmethod
    def _record(self, version: str, user_id: str) -> Found | None:
        """The user's overlay when there is one, else their batch record, in one read."""

    def user_lists(self, user_id: str, meta: VersionMeta, films: Sequence[str] | None = None) -> UserLists | None:
        found = self._record(meta.version, user_id)
        if found is None:
            return None
        record, overlay = found
        lists = decode(record, meta.layout, films if films is not None else self.films(meta.version))
        return replace(lists, overlay=True) if overlay else lists

    def user_list(
        self, user_id: str, meta: VersionMeta, films: Sequence[str], genre: str | None, limit: int | None = None
    ) -> tuple[tuple[str, ...], bool] | None:
        found = self._record(meta.version, user_id)
        if found is None:
            return None
        record, overlay = found
        return decode_list(record, meta.layout, films, genre, limit), overlay

    @abc.abstractmethod
    def _similar_record(self, version: str, index: int) -> bytes | None:
        """The similar-films record of film ``index`` of the version; None when it has none."""

    def similar(
        self, film_id: str, meta: VersionMeta, films: Sequence[str] | None = None, limit: int | None = None
    ) -> tuple[str, ...] | None:
        table = films if films is not None else self.films(meta.version)
        try:
            index = table.index(film_id)
        except ValueError:
            return None
        record = self._similar_record(meta.version, index)
        return None if record is None else decode_similar(record, table, limit)


def newest_first(metas: Iterable[VersionMeta]) -> list[VersionMeta]:
    return sorted(metas, key=lambda m: (m.published_at, m.version), reverse=True)


# ----- pruning -----
def prunable(
    versions: Sequence[VersionMeta],
    current: str | None,
    retired: Mapping[str, float],
    pending: Mapping[str, float],
    keep: int,
    grace_s: float,
    now: float | None = None,
) -> list[str]:
    """What ``prune`` deletes: retired versions past the grace period beyond the newest ``keep``
    (``versions`` newest first), then pending versions older than the grace period."""
    now = time.time() if now is None else now
    old = [
        meta.version
        for rank, meta in enumerate(versions)
        if meta.version != current
        and rank >= keep
        and (retired_at := retired.get(meta.version)) is not None
        and now - retired_at >= grace_s
    ]
    return old + [name for name, started in pending.items() if now - started >= grace_s]
