"""In-memory fakes of the ports, for unit tests only (never imported by the packages)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import pandas as pd

from recsys_common.columns import Columns
from recsys_common.ports.ratings import RatingStore
from recsys_common.ports.recstore import RecStore, StoreUnavailable, VersionMeta


class FakeRatingStore(RatingStore):
    def __init__(self) -> None:
        self.rows = pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in zip(Columns.RATINGS, ["str", "str", "float64", "int64"], strict=True)}
        )
        self.positions: list[int] = []

    def append(self, ratings: pd.DataFrame) -> int:
        frame = ratings[list(Columns.RATINGS)]
        start = len(self.positions)
        self.positions.extend(range(start + 1, start + 1 + len(frame)))
        self.rows = pd.concat([self.rows, frame], ignore_index=True) if len(self.rows) else frame.reset_index(drop=True)
        return len(frame)

    def read_all(self) -> pd.DataFrame:
        latest = self.rows.sort_values(Columns.Timestamp, kind="stable")
        return latest.drop_duplicates([Columns.User, Columns.Item], keep="last").reset_index(drop=True)

    def read_since(self, watermark: int) -> pd.DataFrame:
        return self.rows.iloc[watermark:].reset_index(drop=True)

    def watermark(self) -> int:
        return len(self.positions)


class FakeRecStore(RecStore):
    """Dict-backed RecStore; ``fail_after_records`` makes a publish die halfway."""

    def __init__(self, fail_after_records: int | None = None) -> None:
        self.records: dict[str, dict[str, bytes]] = {}
        self.film_tables: dict[str, list[str]] = {}
        self.cold: dict[str, str] = {}
        self.meta: dict[str, VersionMeta] = {}
        self.current_name: str | None = None
        self.retired: dict[str, float] = {}
        self.pending: dict[str, float] = {}
        self.fail_after_records = fail_after_records
        self.down = False

    def ping(self) -> None:
        if self.down:
            raise StoreUnavailable("fake store is down")

    def _start_pending(self, version: str, started_at: float) -> None:
        self.ping()
        self.pending[version] = started_at
        self.records[version] = {}

    def _put_films(self, version: str, films: list[str]) -> None:
        self.film_tables[version] = films

    def _put_records(self, version: str, records: Iterable[tuple[str, bytes]]) -> None:
        for user, record in records:
            if self.fail_after_records is not None and len(self.records[version]) >= self.fail_after_records:
                raise StoreUnavailable("fake store died mid-publish")
            self.records[version][user] = record

    def _put_cold_start(self, version: str, text: str) -> None:
        self.cold[version] = text

    def _commit(self, meta: VersionMeta) -> None:
        self.meta[meta.version] = meta
        self.pending.pop(meta.version, None)
        self._set_current(meta.version, time.time())

    def _set_current(self, version: str, retired_at: float) -> None:
        if self.current_name is not None and self.current_name != version:
            self.retired[self.current_name] = retired_at
        self.retired.pop(version, None)
        self.current_name = version

    def _current_name(self) -> str | None:
        self.ping()
        return self.current_name

    def _meta(self, version: str) -> VersionMeta | None:
        return self.meta.get(version)

    def _all_meta(self) -> list[VersionMeta]:
        return list(self.meta.values())

    def _films(self, version: str) -> list[str]:
        return self.film_tables[version]

    def _record(self, version: str, user_id: str) -> bytes | None:
        return self.records.get(version, {}).get(user_id)

    def _cold_start(self, version: str) -> str | None:
        return self.cold.get(version)

    def _retired(self) -> dict[str, float]:
        return dict(self.retired)

    def _pending(self) -> dict[str, float]:
        return dict(self.pending)

    def _delete(self, version: str) -> None:
        for table in (self.records, self.film_tables, self.cold, self.meta, self.retired, self.pending):
            table.pop(version, None)  # type: ignore[attr-defined]
