"""RecStore: where the engine publishes versions of everyone's lists and the APIs read them.

A version is written completely under version-scoped keys (films table, every user's record,
cold-start lists) while it is *pending*; ``commit`` then records its metadata and flips the single
``current`` pointer in one atomic step. Readers resolve the pointer, so they never see half a
version. Superseded versions are *retired* with a timestamp and deleted by ``prune`` after a grace
period (the newest ``keep`` stay for rollback); a pending version older than the grace period is
the remains of a publish that died and is deleted too.

One small protocol per role, so each consumer asks for what it uses: ``RecReader`` (the APIs),
``RecPublisher`` and its ``VersionWriter`` (the engine's cycle), ``OverlayWriter`` (the online
updater), ``RecAdmin`` (versions, rollback, pruning, clearing). ``RecStore`` is all of them: what an
adapter implements and a composition root hands out. The JSON forms and the checks adapters share
live beside this module, in ``recsys_common.versions`` and ``recsys_common.listcodec``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from recsys_common.domain import ColdStartLists, UserLists
from recsys_common.listcodec import ListLayout

#: Film indices into a version's film table; negative entries mean "no film" (padding).
Indices: TypeAlias = npt.NDArray[np.integer]
#: The longest list of similar films a version holds per film.
SIMILAR_MAX = 20


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


class RecReader(Protocol):
    """What the APIs read: the serving version and its lists."""

    def current(self) -> VersionMeta | None:
        """The version ``current`` points at; None before the first commit (or after ``clear``)."""

    def films(self, version: str) -> tuple[str, ...]:
        """The version's film table (index -> film id); UnknownVersion when it has none."""

    def user_lists(self, user_id: str, meta: VersionMeta, films: Sequence[str] | None = None) -> UserLists | None:
        """The user's lists in version ``meta`` (their overlay when the online loop wrote one, else the
        batch's), with the must-watch films' reasons when the version has them; None when the user
        has neither there. ``films`` defaults to the version's table."""

    def user_list(
        self, user_id: str, meta: VersionMeta, films: Sequence[str], genre: str | None, limit: int | None = None
    ) -> tuple[tuple[str, ...], bool] | None:
        """One of the user's lists in version ``meta`` (must-watch, or ``genre``'s), ``limit`` ids at
        most, and whether it is their overlay; None when the user has neither an overlay nor a batch
        record there. One read, and only that list decoded (no reasons: ``user_lists`` has them)."""

    def cold_start(self, version: str) -> ColdStartLists | None:
        """The version's cold-start lists; None when it has none."""

    def similar(
        self, film_id: str, meta: VersionMeta, films: Sequence[str] | None = None, limit: int | None = None
    ) -> tuple[str, ...] | None:
        """The films most similar to ``film_id`` in version ``meta``, most similar first, ``limit`` at
        most; None when the version has no similar lists or its film table lacks the film. One read.
        ``films`` defaults to the version's table."""

    def ping(self) -> None:
        """Raise StoreUnavailable when the store cannot be reached."""


class VersionWriter(Protocol):
    """Writes one pending version. Nothing is visible to readers until ``commit``."""

    @property
    def meta(self) -> VersionMeta:
        """The pending version's metadata (``n_films`` set): what ``RecPublisher.resume`` takes."""

    def put_block(
        self, user_ids: Sequence[str], must_watch: Indices, by_genre: Indices | None, reasons: Indices | None = None
    ) -> None:
        """Store lists for a block of users: film *indices* into the version's film table, (n,
        <=must_watch_len) and (n, genres, <=genre_len), negative entries meaning no film; ``reasons``
        (n, <=must_watch_len): the rated film behind each must-watch film, kept when the version's
        layout has reasons (``ListLayout.reasons``). ValueError when an index is beyond the film
        table, a shape does not fit, or a user id was stored before."""

    def put_cold_start(self, lists: ColdStartLists) -> None: ...

    def put_similar(self, similar: Indices) -> None:
        """Store every film's similar films: (n_films, <=SIMILAR_MAX) film indices into the version's
        film table, row i for film i, most similar first, negative entries meaning no film. ValueError
        when the shape does not fit the film table or an index is beyond it."""

    def commit(self, users_elsewhere: int = 0) -> VersionMeta:
        """Record the metadata (users counted, ``published_at`` set) and flip ``current`` to this
        version, atomically; ValueError when the version is no longer pending (pruned, dropped).
        ``users_elsewhere``: users that writers from ``RecPublisher.resume`` stored, added to the count."""

    def abort(self) -> None:
        """Drop what was written; the serving version is untouched."""


class RecPublisher(Protocol):
    """How the engine publishes a version."""

    def begin(self, meta: VersionMeta, films: Sequence[str]) -> VersionWriter:
        """Start a pending version holding the film table ``films`` (index -> film id); ValueError
        when the name is taken (committed or pending) or the films do not fit the layout."""

    def resume(self, meta: VersionMeta) -> VersionWriter:
        """Another writer of the pending version ``meta`` (the ``meta`` of the writer ``begin``
        returned), e.g. in a worker process with its own connection. Its ``put_block`` replaces a
        user's record stored before, so a block written again (a retry) is idempotent; ValueError
        when the version is not pending. The writer from ``begin`` commits, counting these users
        through ``commit(users_elsewhere)``."""


class OverlayWriter(Protocol):
    """How the online updater answers a rating before the next batch version."""

    def put_overlay(
        self,
        meta: VersionMeta,
        user_id: str,
        must_watch: Indices,
        by_genre: Indices | None,
        reasons: Indices | None = None,
    ) -> None:
        """Write (or replace) the user's overlay in the committed version ``meta``: lists as film
        indices into its film table, (must_watch_len,) and (genres, genre_len), and the must-watch
        films' reasons (must_watch_len,) as ``put_block``'s. Readers prefer it to the batch record;
        it goes when the version goes. UnknownVersion when ``meta`` is gone."""


class RecAdmin(Protocol):
    """The versions' lifecycle: listing, rollback, pruning, clearing."""

    def current(self) -> VersionMeta | None:
        """As ``RecReader.current``."""

    def versions(self) -> list[VersionMeta]:
        """Committed versions, newest first."""

    def activate(self, version: str) -> VersionMeta:
        """Point ``current`` at a committed version (rollback); the previous one is retired.
        UnknownVersion when there is no committed version of that name."""

    def pending(self) -> dict[str, float]:
        """Versions being written (or left behind by a publish that died): name -> start time."""

    def drop_pending(self) -> list[str]:
        """Delete every pending version; returns their names, sorted. Call it only when no publish is
        under way (the engine, which runs one cycle at a time, calls it before each cycle)."""

    def prune(self, keep: int, grace_s: float, now: float | None = None) -> list[str]:
        """Delete retired versions past the grace period beyond the newest ``keep``, and pending
        versions older than the grace period. Returns the deleted version names."""

    def clear(self) -> None:
        """Delete everything: every version (committed, retired or pending), its records and
        overlays, and the ``current`` pointer, which goes first so readers at once see no version
        rather than half of one. For a fresh start (the course-exam API's ``/cleanup``); a publish
        under way at that moment fails to commit, or leaves a pending version the next cycle drops."""


class RecStore(RecReader, RecPublisher, OverlayWriter, RecAdmin, Protocol):
    """Every role at once: what an adapter implements and a composition root hands out."""

    def close(self) -> None:
        """Release connections."""
