"""A fake RecStore (in memory, can be switched off) and a clock the tests move by hand."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import pytest

from recsys_common.domain import ColdStartLists
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import RecStore, StoreUnavailable, VersionMeta

GENRES = ("Comedy", "Drama")
FILMS = [f"00000000-0000-5000-8000-{i:012d}" for i in range(40)]
COLD = ColdStartLists(
    overall=tuple(FILMS[30:40]), by_genre={"Comedy": tuple(FILMS[30:33]), "Drama": tuple(FILMS[33:36])}
)


class FakeRecStore(RecStore):
    """Implements the primitives with dicts; ``down = True`` makes every call fail like a dead server."""

    def __init__(self) -> None:
        self.down = False
        self.calls: Counter[str] = Counter()
        self.current_name: str | None = None
        self.metas: dict[str, VersionMeta] = {}
        self.film_tables: dict[str, list[str]] = {}
        self.records: dict[str, dict[str, bytes]] = {}
        self.cold: dict[str, str] = {}
        self.retired: dict[str, float] = {}
        self.pending: dict[str, float] = {}

    def _call(self, name: str) -> None:
        self.calls[name] += 1
        if self.down:
            raise StoreUnavailable("fake store is down")

    def ping(self) -> None:
        self._call("ping")

    def _start_pending(self, version: str, started_at: float) -> None:
        self._call("start_pending")
        self.pending[version] = started_at
        self.records[version] = {}

    def _put_films(self, version: str, films: list[str]) -> None:
        self._call("put_films")
        self.film_tables[version] = films

    def _put_records(self, version: str, records: Iterable[tuple[str, bytes]]) -> None:
        self._call("put_records")
        self.records[version].update(records)

    def _put_cold_start(self, version: str, text: str) -> None:
        self._call("put_cold_start")
        self.cold[version] = text

    def _commit(self, meta: VersionMeta) -> None:
        self._call("commit")
        self.metas[meta.version] = meta
        del self.pending[meta.version]
        self._set_current(meta.version, 0.0)

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

    def _record(self, version: str, user_id: str) -> bytes | None:
        self._call("record")
        return self.records.get(version, {}).get(user_id)

    def _cold_start(self, version: str) -> str | None:
        self._call("cold_start")
        return self.cold.get(version)

    def _retired(self) -> dict[str, float]:
        return dict(self.retired)

    def _pending(self) -> dict[str, float]:
        return dict(self.pending)

    def _delete(self, version: str) -> None:
        for table in (self.metas, self.film_tables, self.records, self.cold, self.retired, self.pending):
            table.pop(version, None)


def publish(
    store: RecStore,
    version: str,
    personal: dict[str, tuple[list[int], list[list[int]]]],
    cold: ColdStartLists = COLD,
    model_version: str | None = None,
) -> VersionMeta:
    """Publish ``{user: (must_watch indices, [comedy indices, drama indices])}`` through the writer API."""
    layout = ListLayout.for_catalogue(len(FILMS), 10, 5, GENRES)
    meta = VersionMeta(version, model_version or f"model-{version}", "2026-11-23T00:00:00Z", layout)
    writer = store.begin(meta, FILMS)
    if personal:
        must_watch = np.full((len(personal), 10), -1)
        by_genre = np.full((len(personal), len(GENRES), 5), -1)
        for row, (mw, genres) in enumerate(personal.values()):
            must_watch[row, : len(mw)] = mw
            for g, films in enumerate(genres):
                by_genre[row, g, : len(films)] = films
        writer.put_block(list(personal), must_watch, by_genre)
    writer.put_cold_start(cold)
    return writer.commit()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def fake_store() -> FakeRecStore:
    return FakeRecStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def films() -> list[str]:
    return FILMS


@pytest.fixture
def cold() -> ColdStartLists:
    return COLD


@pytest.fixture(name="publish")
def publish_fixture():
    return publish
