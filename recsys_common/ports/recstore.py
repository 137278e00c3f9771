"""RecStore: where the engine publishes versions of everyone's lists and the API reads them.

A version is written completely under version-scoped keys (films table, every user's record,
cold-start lists) while it is *pending*; ``commit`` then records its metadata and flips the single
``current`` pointer in one atomic step. Readers resolve the pointer, so they never see half a
version. Superseded versions are *retired* with a timestamp and deleted by ``prune`` after a grace
period (the newest ``keep`` stay for rollback); a pending version older than the grace period is
the remains of a publish that died and is deleted too.
"""

from __future__ import annotations

import abc
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from recsys_common.domain import ColdStartLists, UserLists
from recsys_common.listcodec import UINT16_LIMIT, ListLayout, decode, decode_list, encode_block


class StoreUnavailable(RuntimeError):
    """The store cannot be reached (server down, file unreadable)."""


class UnknownVersion(KeyError):
    """No committed version of that name."""


@dataclass(frozen=True)
class VersionMeta:
    version: str
    model_version: str
    trained_at: str  # ISO 8601 UTC
    layout: ListLayout
    n_users: int = 0
    n_films: int = 0
    watermark: int = 0
    #: Digest of the catalogue the version was built from (a change of films makes the next cycle run).
    catalog_digest: str = ""
    published_at: str = ""  # set by commit
    metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str | bytes) -> VersionMeta:
        raw = json.loads(text)
        layout = raw.pop("layout")
        layout["genres"] = tuple(layout["genres"])
        return VersionMeta(layout=ListLayout(**layout), **raw)


def cold_start_to_json(lists: ColdStartLists) -> str:
    return json.dumps({"overall": list(lists.overall), "by_genre": {g: list(v) for g, v in lists.by_genre.items()}})


def cold_start_from_json(text: str | bytes) -> ColdStartLists:
    raw = json.loads(text)
    return ColdStartLists(tuple(raw["overall"]), {g: tuple(v) for g, v in raw["by_genre"].items()})


def _utc_now_iso() -> str:
    # Microseconds, so versions committed within one second still sort in commit order.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class VersionWriter:
    """Writes one pending version. Nothing is visible to readers until ``commit``."""

    def __init__(self, store: RecStore, meta: VersionMeta) -> None:
        self._store = store
        self.meta = meta
        self._users = 0
        self._done = False

    def put_block(
        self,
        user_ids: Sequence[str],
        must_watch: npt.NDArray[np.integer],
        by_genre: npt.NDArray[np.integer] | None,
    ) -> None:
        """Store lists for a block of users: film *indices* into the version's film table."""
        self._check_open()
        if len(user_ids) != must_watch.shape[0]:
            raise ValueError(f"{len(user_ids)} user ids for {must_watch.shape[0]} rows")
        self._check_indices("must_watch", must_watch)
        if by_genre is not None:
            self._check_indices("by_genre", by_genre)
        records = encode_block(must_watch, by_genre, self.meta.layout)
        self._store._put_records(self.meta.version, zip(user_ids, records, strict=True))
        self._users += len(user_ids)

    def put_cold_start(self, lists: ColdStartLists) -> None:
        self._check_open()
        self._store._put_cold_start(self.meta.version, cold_start_to_json(lists))

    def commit(self) -> VersionMeta:
        """Record the metadata and flip ``current`` to this version, atomically."""
        self._check_open()
        final = replace(self.meta, n_users=self._users, published_at=_utc_now_iso())
        self._store._commit(final)
        self._done = True
        return final

    def abort(self) -> None:
        """Drop what was written; the serving version is untouched."""
        if not self._done:
            self._store._delete(self.meta.version)
            self._done = True

    def _check_open(self) -> None:
        if self._done:
            raise RuntimeError(f"version {self.meta.version} was already committed or aborted")

    def _check_indices(self, name: str, indices: npt.NDArray[np.integer]) -> None:
        """Film indices must point into the film table (negative entries are padding)."""
        if indices.size and int(indices.max()) >= self.meta.n_films:
            raise ValueError(
                f"{name} refers to film index {int(indices.max())}, "
                f"but version {self.meta.version} has {self.meta.n_films} films"
            )


class RecStore(abc.ABC):
    """Versioned store of published lists. Subclasses implement the primitive operations."""

    # ----- public API -----
    def begin(self, meta: VersionMeta, films: Sequence[str]) -> VersionWriter:
        """Start a pending version holding the film table ``films`` (index -> film id)."""
        if meta.version in {m.version for m in self.versions()} or meta.version in self._pending():
            raise ValueError(f"version {meta.version} already exists")
        if meta.layout.index_bytes == 2 and len(films) >= UINT16_LIMIT:
            raise ValueError(f"{len(films)} films do not fit a layout with 2-byte indices")
        meta = replace(meta, n_films=len(films))
        self._start_pending(meta.version, time.time())
        self._put_films(meta.version, list(films))
        return VersionWriter(self, meta)

    def current(self) -> VersionMeta | None:
        name = self._current_name()
        return None if name is None else self._meta(name)

    def versions(self) -> list[VersionMeta]:
        """Committed versions, newest first."""
        return sorted(self._all_meta(), key=lambda m: (m.published_at, m.version), reverse=True)

    def films(self, version: str) -> tuple[str, ...]:
        return tuple(self._films(version))

    def user_lists(self, user_id: str, meta: VersionMeta, films: Sequence[str] | None = None) -> UserLists | None:
        """The user's lists in version ``meta`` (their overlay when the online loop wrote one, else the
        batch's); None when the user has neither there."""
        found = self._user_record(meta.version, user_id)
        if found is None:
            return None
        record, overlay = found
        lists = decode(record, meta.layout, films if films is not None else self.films(meta.version))
        return replace(lists, overlay=True) if overlay else lists

    def put_overlay(
        self,
        meta: VersionMeta,
        user_id: str,
        must_watch: npt.NDArray[np.integer],
        by_genre: npt.NDArray[np.integer] | None,
    ) -> None:
        """Write (or replace) the user's overlay in the committed version ``meta``: lists as film
        indices into its film table, (must_watch_len,) and (genres, genre_len). Readers prefer it to
        the batch record; it goes when the version goes."""
        if int(np.max(must_watch, initial=-1)) >= meta.n_films or (
            by_genre is not None and int(np.max(by_genre, initial=-1)) >= meta.n_films
        ):
            raise ValueError(f"an overlay refers to a film index beyond the {meta.n_films} films of {meta.version}")
        [record] = encode_block(must_watch[None, :], None if by_genre is None else by_genre[None, :], meta.layout)
        self._put_overlay(meta.version, user_id, record)

    def user_list(
        self, user_id: str, meta: VersionMeta, films: Sequence[str], genre: str | None, limit: int | None = None
    ) -> tuple[tuple[str, ...], bool] | None:
        """One of the user's lists in version ``meta`` (must-watch, or ``genre``'s), ``limit`` ids at
        most, and whether it is their overlay; None when the user has neither an overlay nor a batch
        record there. One read, and only that list decoded."""
        found = self._user_record(meta.version, user_id)
        if found is None:
            return None
        record, overlay = found
        return decode_list(record, meta.layout, films, genre, limit), overlay

    def cold_start(self, version: str) -> ColdStartLists | None:
        text = self._cold_start(version)
        return None if text is None else cold_start_from_json(text)

    def activate(self, version: str) -> VersionMeta:
        """Point ``current`` at a committed version (rollback); the previous one is retired."""
        meta = self._meta(version)
        if meta is None:
            raise UnknownVersion(version)
        self._set_current(version, time.time())
        return meta

    def pending(self) -> dict[str, float]:
        """Versions being written (or left behind by a publish that died): name -> start time."""
        return self._pending()

    def drop_pending(self) -> list[str]:
        """Delete every pending version; returns their names. Call it only when no publish is under
        way (the engine, which runs one cycle at a time, calls it before each cycle)."""
        names = sorted(self._pending())
        for name in names:
            self._delete(name)
        return names

    def prune(self, keep: int, grace_s: float, now: float | None = None) -> list[str]:
        """Delete retired versions past the grace period beyond the newest ``keep``, and pending
        versions older than the grace period. Returns the deleted version names."""
        now = time.time() if now is None else now
        current = self._current_name()
        deleted: list[str] = []
        retired = self._retired()
        for rank, meta in enumerate(self.versions()):
            if meta.version == current or rank < keep:
                continue
            retired_at = retired.get(meta.version)
            if retired_at is not None and now - retired_at >= grace_s:
                self._delete(meta.version)
                deleted.append(meta.version)
        for name, started in self._pending().items():
            if now - started >= grace_s:
                self._delete(name)
                deleted.append(name)
        return deleted

    def clear(self) -> None:
        """Delete everything: every version (committed, retired or pending), its records and
        overlays, and the ``current`` pointer, which goes first so readers at once see no version
        rather than half of one. For a fresh start (the course-exam API's ``/cleanup``); a publish
        under way at that moment fails to commit, or leaves a pending version the next cycle drops."""
        self._clear()

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    # ----- primitives -----
    @abc.abstractmethod
    def _start_pending(self, version: str, started_at: float) -> None: ...

    @abc.abstractmethod
    def _put_films(self, version: str, films: list[str]) -> None: ...

    @abc.abstractmethod
    def _put_records(self, version: str, records: Iterable[tuple[str, bytes]]) -> None: ...

    @abc.abstractmethod
    def _put_cold_start(self, version: str, text: str) -> None: ...

    @abc.abstractmethod
    def _commit(self, meta: VersionMeta) -> None:
        """Atomically: store meta, clear pending, retire the old current, set current."""

    @abc.abstractmethod
    def _set_current(self, version: str, retired_at: float) -> None:
        """Atomically: retire the old current at ``retired_at``, un-retire and point at ``version``."""

    @abc.abstractmethod
    def _current_name(self) -> str | None: ...

    @abc.abstractmethod
    def _meta(self, version: str) -> VersionMeta | None: ...

    @abc.abstractmethod
    def _all_meta(self) -> list[VersionMeta]: ...

    @abc.abstractmethod
    def _films(self, version: str) -> list[str]: ...

    @abc.abstractmethod
    def _user_record(self, version: str, user_id: str) -> tuple[bytes, bool] | None:
        """The user's overlay (True) when there is one, else their batch record (False), in one read."""

    @abc.abstractmethod
    def _put_overlay(self, version: str, user_id: str, record: bytes) -> None:
        """Store or replace the user's overlay record of a committed version."""

    @abc.abstractmethod
    def _cold_start(self, version: str) -> str | None: ...

    @abc.abstractmethod
    def _retired(self) -> dict[str, float]: ...

    @abc.abstractmethod
    def _pending(self) -> dict[str, float]: ...

    @abc.abstractmethod
    def _delete(self, version: str) -> None:
        """Remove every key of the version (pending or committed, never current)."""

    @abc.abstractmethod
    def _clear(self) -> None:
        """Remove the current pointer, then every version and everything it holds."""
