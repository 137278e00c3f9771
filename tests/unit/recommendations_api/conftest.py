"""Lists published into the fake RecStore (tests/fakes.py) and a clock the tests move by hand."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_common.domain import ColdStartLists
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import RecStore, VersionMeta
from tests.fakes import FakeRecStore

GENRES = ("Comedy", "Drama")
FILMS = [f"00000000-0000-5000-8000-{i:012d}" for i in range(40)]
COLD = ColdStartLists(
    overall=tuple(FILMS[30:40]), by_genre={"Comedy": tuple(FILMS[30:33]), "Drama": tuple(FILMS[33:36])}
)


def publish(
    store: RecStore,
    version: str,
    personal: dict[str, tuple[list[int], list[list[int]]]],
    cold: ColdStartLists = COLD,
    model_version: str | None = None,
    reasons: dict[str, list[int]] | None = None,
) -> VersionMeta:
    """Publish ``{user: (must_watch indices, [comedy indices, drama indices])}`` through the writer API,
    with ``{user: the rated film index behind each must-watch film}`` when ``reasons`` is given."""
    layout = ListLayout.for_catalogue(len(FILMS), 10, 5, GENRES, reasons=reasons is not None)
    meta = VersionMeta(version, model_version or f"model-{version}", "2026-11-23T00:00:00Z", layout)
    writer = store.begin(meta, FILMS)
    if personal:
        must_watch = np.full((len(personal), 10), -1)
        by_genre = np.full((len(personal), len(GENRES), 5), -1)
        for row, (mw, genres) in enumerate(personal.values()):
            must_watch[row, : len(mw)] = mw
            for g, films in enumerate(genres):
                by_genre[row, g, : len(films)] = films
        because = np.full((len(personal), 10), -1)
        for row, user in enumerate(personal):
            given = (reasons or {}).get(user, [])
            because[row, : len(given)] = given
        writer.put_block(list(personal), must_watch, by_genre, because)
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
