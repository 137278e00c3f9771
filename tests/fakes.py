"""In-memory fakes of the ports, for unit tests only (never imported by the packages)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from exam_api.state import ExamStore, ExamStoreUnavailable, UserRecord
from movies_db.etl import FilmBatch, FilmSource
from recsys_common.columns import Columns
from recsys_common.domain import ColdStartLists, Film, RatingEvent
from recsys_common.events import RatingRows, as_rating_rows, ratings_frame, without_removed
from recsys_common.ports.catalog import EtlState
from recsys_common.ports.publisher import PublishError, RatingPublisher
from recsys_common.ports.ratings import RatingStore
from recsys_common.ports.recstore import Indices, StoreUnavailable, UnknownVersion, VersionMeta, VersionWriter
from recsys_common.versions import (
    PendingVersion,
    RecordLists,
    cold_start_from_json,
    encode_overlay,
    newest_first,
    pending_meta,
    prunable,
)
from recsys_datasets.frames import films_from_frame, frame_of_films


class FakeRatingStore(RatingStore):
    """Rows in a frame, through the same contract suite as the adapters. ``positions[i]`` is row i's
    watermark position (positions keep growing after ``clear``); an event id is stored once."""

    def __init__(self) -> None:
        self.rows = ratings_frame([], [], [], [])
        self.positions: list[int] = []
        self.event_ids: set[str] = set()
        self._last_position = 0

    def append(self, ratings: pd.DataFrame | RatingRows) -> int:
        rows = as_rating_rows(ratings)
        fresh = ~pd.Index(rows.event_id).duplicated() & ~np.isin(rows.event_id, list(self.event_ids))
        self.event_ids.update(rows.event_id[fresh].tolist())
        return self.load_unchecked(
            ratings_frame(rows.user_id[fresh], rows.film_id[fresh], rows.rating[fresh], rows.timestamp[fresh])
        )

    def load_unchecked(self, frame: pd.DataFrame) -> int:
        """Rows that reached the storage without ``append``'s checks (another writer, an older
        schema): how a test gives the engine malformed ratings to read."""
        frame = frame[list(Columns.RATINGS)].reset_index(drop=True)
        start = self._last_position
        self.positions.extend(range(start + 1, start + 1 + len(frame)))
        self._last_position = start + len(frame)
        self.rows = pd.concat([self.rows, frame], ignore_index=True) if len(self.rows) else frame
        return len(frame)

    def clear(self) -> None:
        self.rows = ratings_frame([], [], [], [])
        self.positions = []
        self.event_ids = set()

    def read_all(self) -> pd.DataFrame:
        latest = self.rows.sort_values(Columns.Timestamp, kind="stable")
        return without_removed(latest.drop_duplicates([Columns.User, Columns.Item], keep="last").reset_index(drop=True))

    def read_user(self, user_id: str) -> pd.DataFrame:
        latest = self.read_all()
        return latest[latest[Columns.User] == user_id].reset_index(drop=True)

    def read_since(self, watermark: int) -> pd.DataFrame:
        newer = [i for i, position in enumerate(self.positions) if position > watermark]
        return self.rows.iloc[newer].reset_index(drop=True)

    def watermark(self) -> int:
        return self._last_position


class FakeRecStore(RecordLists):
    """Every RecStore role over dicts, through the same contract suite as the adapters.

    ``down = True`` makes every call fail like a dead server; ``fail_after_records`` makes a publish
    die once a version holds that many users; ``calls`` counts calls by the store operation they
    stand for (``current_name``, ``films``, ``record``, ...).
    """

    def __init__(self, fail_after_records: int | None = None) -> None:
        self.down = False
        self.fail_after_records = fail_after_records
        self.calls: Counter[str] = Counter()
        self.current_name: str | None = None
        self.metas: dict[str, VersionMeta] = {}
        self.film_tables: dict[str, tuple[str, ...]] = {}
        self.records: dict[str, dict[str, bytes]] = {}
        self.cold: dict[str, str] = {}
        self.similar_records: dict[str, list[bytes]] = {}
        self.overlays: dict[str, dict[str, bytes]] = {}
        self.retired: dict[str, float] = {}
        self.pending_versions: dict[str, float] = {}

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.down:
            raise StoreUnavailable("fake store is down")

    def ping(self) -> None:
        self._call("ping")

    def close(self) -> None:
        pass

    # ----- publishing -----
    def begin(self, meta: VersionMeta, films: Sequence[str]) -> VersionWriter:
        self._call("start_pending")
        if meta.version in self.metas or meta.version in self.pending_versions:
            raise ValueError(f"version {meta.version} already exists")
        meta = pending_meta(meta, films)
        self.pending_versions[meta.version] = time.time()
        self.film_tables[meta.version] = tuple(films)
        self.records[meta.version] = {}
        return _FakeVersionWriter(meta, self)

    def resume(self, meta: VersionMeta) -> VersionWriter:
        self._call("resume")
        if meta.version not in self.pending_versions:
            raise ValueError(f"version {meta.version} is not pending")
        return _FakeVersionWriter(meta, self, resumed=True)

    def store_records(self, version: str, records: list[tuple[str, bytes]], replace: bool = False) -> None:
        """A pending version's records (``fail_after_records`` applies)."""
        self._call("put_records")
        if replace and version not in self.pending_versions:
            raise ValueError(f"version {version} is not pending")
        stored = self.records[version]
        for user, record in records:
            if self.fail_after_records is not None and len(stored) >= self.fail_after_records:
                raise StoreUnavailable("fake store died mid-publish")
            if user in stored and not replace:
                raise ValueError(f"user id {user} was already stored in version {version}")
            stored[user] = record

    def store_cold_start(self, version: str, text: str) -> None:
        self._call("put_cold_start")
        self.cold[version] = text

    def store_similar(self, version: str, records: list[bytes]) -> None:
        self._call("put_similar")
        self.similar_records[version] = list(records)

    def store_commit(self, meta: VersionMeta) -> None:
        self._call("commit")
        if self.pending_versions.pop(meta.version, None) is None:
            raise ValueError(f"version {meta.version} is not pending (aborted, pruned or already committed)")
        self.metas[meta.version] = meta
        self._point_at(meta.version)

    def put_overlay(
        self,
        meta: VersionMeta,
        user_id: str,
        must_watch: Indices,
        by_genre: Indices | None,
        reasons: Indices | None = None,
    ) -> None:
        self._call("put_overlay")
        record = encode_overlay(meta, must_watch, by_genre, reasons)
        if meta.version not in self.metas:
            raise UnknownVersion(meta.version)
        self.overlays.setdefault(meta.version, {})[user_id] = record

    # ----- lifecycle -----
    def activate(self, version: str) -> VersionMeta:
        self._call("set_current")
        if version not in self.metas:
            raise UnknownVersion(version)
        self._point_at(version)
        return self.metas[version]

    def _point_at(self, version: str) -> None:
        if self.current_name not in (None, version):
            self.retired[str(self.current_name)] = time.time()
        self.retired.pop(version, None)
        self.current_name = version

    def versions(self) -> list[VersionMeta]:
        self._call("all_meta")
        return newest_first(self.metas.values())

    def pending(self) -> dict[str, float]:
        self._call("pending")
        return dict(self.pending_versions)

    def drop_pending(self) -> list[str]:
        names = sorted(self.pending())
        for name in names:
            self.delete(name)
        return names

    def prune(self, keep: int, grace_s: float, now: float | None = None) -> list[str]:
        doomed = prunable(self.versions(), self.current_name, self.retired, self.pending(), keep, grace_s, now)
        for name in doomed:
            self.delete(name)
        return doomed

    def delete(self, version: str) -> None:
        """Drop every table's entry of the version (never the current one)."""
        self._call("delete")
        if version == self.current_name:
            raise ValueError(f"version {version} is current and cannot be deleted")
        for table in self._tables():
            table.pop(version, None)

    def clear(self) -> None:
        self._call("clear")
        self.current_name = None
        for table in self._tables():
            table.clear()

    def _tables(self) -> tuple[dict[str, Any], ...]:
        return (
            self.metas,
            self.film_tables,
            self.records,
            self.cold,
            self.similar_records,
            self.retired,
            self.pending_versions,
            self.overlays,
        )

    # ----- reading -----
    def current(self) -> VersionMeta | None:
        self._call("current_name")
        return None if self.current_name is None else self.metas[self.current_name]

    def films(self, version: str) -> tuple[str, ...]:
        self._call("films")
        if version not in self.film_tables:
            raise UnknownVersion(version)
        return self.film_tables[version]

    def _record(self, version: str, user_id: str) -> tuple[bytes, bool] | None:
        self._call("record")
        overlay = self.overlays.get(version, {}).get(user_id)
        if overlay is not None:
            return overlay, True
        record = self.records.get(version, {}).get(user_id)
        return None if record is None else (record, False)

    def cold_start(self, version: str) -> ColdStartLists | None:
        self._call("cold_start")
        text = self.cold.get(version)
        return None if text is None else cold_start_from_json(text)

    def _similar_record(self, version: str, index: int) -> bytes | None:
        self._call("similar")
        records = self.similar_records.get(version)
        return None if records is None else records[index]


class _FakeVersionWriter(PendingVersion):
    def __init__(self, meta: VersionMeta, store: FakeRecStore, resumed: bool = False) -> None:
        super().__init__(meta, resumed)
        self._store = store

    def _store_records(self, records: list[tuple[str, bytes]], replace: bool) -> None:
        self._store.store_records(self.meta.version, records, replace)

    def _store_cold_start(self, text: str) -> None:
        self._store.store_cold_start(self.meta.version, text)

    def _store_similar(self, records: list[bytes]) -> None:
        self._store.store_similar(self.meta.version, records)

    def _store_commit(self, meta: VersionMeta) -> None:
        self._store.store_commit(meta)

    def _store_drop(self) -> None:
        self._store.delete(self.meta.version)


class FakeFilmSource(FilmSource):
    """A films frame as the ETL's source; every film carries the same ``modified``.

    A rerun with the same time loads nothing, a newer one reloads every film; films dropped from
    the frame are what the source no longer holds (deletions).
    """

    def __init__(self, films: pd.DataFrame, modified: datetime) -> None:
        if modified.tzinfo is None:
            raise ValueError("modified must carry a time zone")
        self._films = sorted(films_from_frame(films), key=lambda f: f.film_id)
        self._modified = modified

    def count(self) -> int:
        return len(self._films)

    def film_ids(self) -> set[str]:
        return {film.film_id for film in self._films}

    def batches(self, after: EtlState | None, batch_size: int) -> Iterator[FilmBatch]:
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        films = self._films
        if after is not None:
            if after.modified > self._modified:
                return
            if after.modified == self._modified:
                films = [f for f in films if f.film_id > after.last_id]
        for start in range(0, len(films), batch_size):
            chunk = films[start : start + batch_size]
            yield FilmBatch(chunk, EtlState(self._modified, chunk[-1].film_id))


class FakeExamStore(ExamStore):
    """The exam API's state in dicts; ``down = True`` makes every call fail like a dead server."""

    def __init__(self) -> None:
        self.down = False
        self.stored_items: dict[int, tuple[str, ...]] = {}
        self.users: dict[int, UserRecord] = {}
        self.item_counts: Counter[int] = Counter()
        self.cleared: float | None = None

    def _check(self) -> None:
        if self.down:
            raise ExamStoreUnavailable("fake exam store is down")

    def items(self) -> dict[int, tuple[str, ...]]:
        self._check()
        return dict(self.stored_items)

    def put_items(self, items: Mapping[int, Sequence[str]]) -> None:
        self._check()
        self.stored_items.update({item: tuple(genres) for item, genres in items.items()})

    def user(self, user_id: int) -> UserRecord:
        self._check()
        record = self.users.get(user_id, UserRecord())
        return UserRecord(set(record.shown), set(record.interacted))

    def add_shown(self, user_id: int, items: Sequence[int]) -> None:
        self._check()
        self.users.setdefault(user_id, UserRecord()).shown.update(items)

    def add_interactions(self, user_id: int, items: Sequence[int]) -> None:
        self._check()
        self.users.setdefault(user_id, UserRecord()).interacted.update(items)
        self.item_counts.update(items)

    def counts(self) -> dict[int, int]:
        self._check()
        return dict(self.item_counts)

    def cleared_at(self) -> float | None:
        self._check()
        return self.cleared

    def clear(self, at: float) -> None:
        self._check()
        self.stored_items, self.users, self.item_counts, self.cleared = {}, {}, Counter(), at

    def ping(self) -> None:
        self._check()


class FakeCatalogWriter:
    """The catalogue sides the exam API uses (upsert, delete, films) over a dict."""

    def __init__(self) -> None:
        self.stored: dict[str, Film] = {}

    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        written = list(films)
        self.stored.update({film.film_id: film for film in written})
        return len(written)

    def delete(self, film_ids: Iterable[str]) -> int:
        return sum(self.stored.pop(film_id, None) is not None for film_id in set(film_ids))

    def films(self) -> Iterator[Film]:
        return iter(sorted(self.stored.values(), key=lambda film: film.film_id))

    def frame(self) -> pd.DataFrame:
        """The films as the engine reads them."""
        return frame_of_films(self.films())

    def close(self) -> None:
        pass


class FakeRatingPublisher(RatingPublisher):
    """Appends published events to a rating store; ``down = True`` refuses them."""

    def __init__(self, ratings: RatingStore) -> None:
        self.ratings = ratings
        self.down = False

    def publish(self, event: RatingEvent, timeout_s: float) -> None:
        if self.down:
            raise PublishError("fake publisher is down")
        row = (event.user_id, event.film_id, event.rating, event.timestamp)
        self.ratings.append(pd.DataFrame([row], columns=list(Columns.RATINGS)))

    def check(self, timeout_s: float) -> None:
        if self.down:
            raise PublishError("fake publisher is down")
