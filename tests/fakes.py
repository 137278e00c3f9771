"""In-memory fakes of the ports, for unit tests only (never imported by the packages)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from exam_api.state import ExamStore, ExamStoreUnavailable, UserRecord
from movies_db.etl import FilmBatch, FilmSource
from recsys_common.columns import Columns
from recsys_common.domain import Film, RatingEvent
from recsys_common.events import RatingRows, as_rating_rows, ratings_frame
from recsys_common.ports.catalog import EtlState
from recsys_common.ports.publisher import PublishError, RatingPublisher
from recsys_common.ports.ratings import RatingStore
from recsys_common.ports.recstore import RecStore, StoreUnavailable, UnknownVersion, VersionMeta
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
        return latest.drop_duplicates([Columns.User, Columns.Item], keep="last").reset_index(drop=True)

    def read_user(self, user_id: str) -> pd.DataFrame:
        latest = self.read_all()
        return latest[latest[Columns.User] == user_id].reset_index(drop=True)

    def read_since(self, watermark: int) -> pd.DataFrame:
        newer = [i for i, position in enumerate(self.positions) if position > watermark]
        return self.rows.iloc[newer].reset_index(drop=True)

    def watermark(self) -> int:
        return self._last_position


class FakeRecStore(RecStore):
    """Implements the primitives with dicts. ``down = True`` makes every call fail like a dead
    server; ``fail_after_records`` makes a publish die halfway; ``calls`` counts primitive calls."""

    def __init__(self, fail_after_records: int | None = None) -> None:
        self.down = False
        self.fail_after_records = fail_after_records
        self.calls: Counter[str] = Counter()
        self.current_name: str | None = None
        self.metas: dict[str, VersionMeta] = {}
        self.film_tables: dict[str, list[str]] = {}
        self.records: dict[str, dict[str, bytes]] = {}
        self.cold: dict[str, str] = {}
        self.overlays: dict[str, dict[str, bytes]] = {}
        self.retired: dict[str, float] = {}
        self.pending_versions: dict[str, float] = {}

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.down:
            raise StoreUnavailable("fake store is down")

    def ping(self) -> None:
        self._call("ping")

    def _start_pending(self, version: str, started_at: float) -> None:
        self._call("start_pending")
        self.pending_versions[version] = started_at
        self.records[version] = {}

    def _put_films(self, version: str, films: list[str]) -> None:
        self._call("put_films")
        self.film_tables[version] = films

    def _put_records(self, version: str, records: Iterable[tuple[str, bytes]]) -> None:
        self._call("put_records")
        for user, record in records:
            if self.fail_after_records is not None and len(self.records[version]) >= self.fail_after_records:
                raise StoreUnavailable("fake store died mid-publish")
            self.records[version][user] = record

    def _put_cold_start(self, version: str, text: str) -> None:
        self._call("put_cold_start")
        self.cold[version] = text

    def _commit(self, meta: VersionMeta) -> None:
        self._call("commit")
        self.metas[meta.version] = meta
        del self.pending_versions[meta.version]
        self._set_current(meta.version, time.time())

    def _set_current(self, version: str, retired_at: float) -> None:
        self._call("set_current")
        if self.current_name not in (None, version):
            self.retired[str(self.current_name)] = retired_at
        self.retired.pop(version, None)
        self.current_name = version

    def _current_name(self) -> str | None:
        self._call("current_name")
        return self.current_name

    def _meta(self, version: str) -> VersionMeta | None:
        self._call("meta")
        return self.metas.get(version)

    def _all_meta(self) -> list[VersionMeta]:
        self._call("all_meta")
        return list(self.metas.values())

    def _films(self, version: str) -> list[str]:
        self._call("films")
        return self.film_tables[version]

    def _user_record(self, version: str, user_id: str) -> tuple[bytes, bool] | None:
        self._call("record")
        overlay = self.overlays.get(version, {}).get(user_id)
        if overlay is not None:
            return overlay, True
        record = self.records.get(version, {}).get(user_id)
        return None if record is None else (record, False)

    def _put_overlay(self, version: str, user_id: str, record: bytes) -> None:
        self._call("put_overlay")
        if version not in self.metas:
            raise UnknownVersion(version)
        self.overlays.setdefault(version, {})[user_id] = record

    def _cold_start(self, version: str) -> str | None:
        self._call("cold_start")
        return self.cold.get(version)

    def _retired(self) -> dict[str, float]:
        return dict(self.retired)

    def _pending(self) -> dict[str, float]:
        return dict(self.pending_versions)

    def _clear(self) -> None:
        self._call("clear")
        self.current_name = None
        for table in (
            self.metas,
            self.film_tables,
            self.records,
            self.cold,
            self.retired,
            self.pending_versions,
            self.overlays,
        ):
            table.clear()

    def _delete(self, version: str) -> None:
        for table in (
            self.metas,
            self.film_tables,
            self.records,
            self.cold,
            self.retired,
            self.pending_versions,
            self.overlays,
        ):
            table.pop(version, None)


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
