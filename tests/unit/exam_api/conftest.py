"""The exam API over fakes of every port, served in process (Starlette's TestClient)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from fastapi.testclient import TestClient

from exam_api.app import create_app
from exam_api.service import ExamConfig, ExamService, film_id_of
from recsys_common.domain import ColdStartLists
from recsys_common.listcodec import ListLayout
from recsys_common.ports.recstore import VersionMeta
from tests.fakes import FakeCatalogWriter, FakeExamStore, FakeRatingPublisher, FakeRatingStore, FakeRecStore

GENRES = ("Comedy", "Drama", "Horror")
#: 60 items: item i has genre GENRES[i % 3].
ITEMS = list(range(1, 61))
COUNT = 10


def genres_of(item: int) -> list[str]:
    return [GENRES[item % 3]]


@dataclass
class World:
    client: TestClient
    service: ExamService
    state: FakeExamStore
    catalog: FakeCatalogWriter
    ratings: FakeRatingStore
    publisher: FakeRatingPublisher
    recstore: FakeRecStore

    def add_all(self) -> None:
        response = self.client.post("/add_items", json={"item_ids": ITEMS, "genres": [genres_of(i) for i in ITEMS]})
        assert response.status_code == 200, response.text

    def publish(self, personal: dict[int, list[int]], cold: list[int], trained_at: float | None = None) -> VersionMeta:
        """A version over every added item, ``personal`` lists by user, ``cold`` as its cold-start list."""
        films = [film.film_id for film in self.catalog.films()]
        index = {film: i for i, film in enumerate(films)}
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5 if trained_at is None else trained_at))
        name = f"v{len(self.recstore.metas) + 1}-{time.monotonic_ns()}"
        layout = ListLayout.for_catalogue(len(films), 20, 0, ())
        meta = VersionMeta(version=name, model_version="m", trained_at=stamp, layout=layout)
        writer = self.recstore.begin(meta, films)
        if personal:
            rows = np.full((len(personal), 20), -1, dtype=np.int64)
            for row, items in enumerate(personal.values()):
                rows[row, : len(items)] = [index[film_id_of(i)] for i in items]
            writer.put_block([str(u) for u in personal], rows, None)
        writer.put_cold_start(ColdStartLists(overall=tuple(film_id_of(i) for i in cold)))
        return writer.commit()


def make_world(exploration: float = 0.0, diversity: float = 0.0) -> World:
    state, catalog, ratings, recstore = FakeExamStore(), FakeCatalogWriter(), FakeRatingStore(), FakeRecStore()
    publisher = FakeRatingPublisher(ratings)
    config = ExamConfig(
        count=COUNT,
        exploration_share=exploration,
        diversity_weight=diversity,
        seed=1,
        refresh_s=0.0,
        publish_timeout_s=1.0,
    )
    service = ExamService(state, catalog, publisher, ratings, recstore, config)  # type: ignore[arg-type]
    service.load()
    app = create_app(service, max_body_bytes=1_000_000, max_header_bytes=16_000)
    return World(TestClient(app), service, state, catalog, ratings, publisher, recstore)


@pytest.fixture
def world() -> Iterator[World]:
    made = make_world()
    with made.client:
        yield made
