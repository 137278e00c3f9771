"""Fakes of the Catalog and RatingPublisher ports and an app wired with them, for the Movies API unit tests."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from recsys_common.domain import ROLES, Film, Person, RatingEvent
from recsys_common.events import InvalidEvent
from recsys_common.ids import film_id_for, person_id_for
from recsys_common.ports.catalog import (
    CatalogReader,
    CatalogUnavailable,
    FilmPage,
    GenreCount,
    PersonPage,
    PersonReader,
    SortOrder,
    name_terms,
    stored_genre_ids,
)
from recsys_common.ports.publisher import PublishError, RatingPublisher
from recsys_common.tokens import issue_token

SECRET = "unit-test-secret-of-at-least-32-bytes!!"

LUCAS = Person(person_id_for("George Lucas"), "George Lucas")
FORD = Person(person_id_for("Harrison Ford"), "Harrison Ford")
FILMS = [
    Film(
        film_id_for("api:1"),
        "Star Wars",
        1977,
        ("Action", "Sci-Fi"),
        8.6,
        1_000_000,
        93.0,
        "Rebels.",
        directors=(LUCAS,),
        actors=(FORD,),
        writers=(LUCAS,),
    ),
    Film(film_id_for("api:2"), "Casablanca", 1942, ("Drama", "Romance"), 8.5, 500_000, None, "A cafe.", actors=(FORD,)),
    Film(film_id_for("api:3"), "Unrated", None, ("Comedy",)),
]


@dataclass
class SearchCall:
    query: str | None
    genre: str | None
    sort: SortOrder | None
    page: int
    size: int


@dataclass
class FakeCatalog(CatalogReader, PersonReader):
    """Holds films in a dict; ``search`` records its arguments and returns every film; ``down`` breaks it.
    People are those the films credit, found by plain word matching."""

    by_id: dict[str, Film] = field(default_factory=lambda: {f.film_id: f for f in FILMS})
    searches: list[SearchCall] = field(default_factory=list)
    down: bool = False

    def _check(self) -> None:
        if self.down:
            raise CatalogUnavailable("fake catalogue is down")

    def search(
        self,
        query: str | None = None,
        genre: str | None = None,
        sort: SortOrder | None = None,
        page: int = 1,
        size: int = 20,
    ) -> FilmPage:
        self._check()
        self.searches.append(SearchCall(query, genre, sort, page, size))
        return FilmPage(tuple(self.by_id.values()), len(self.by_id))

    def get(self, film_id: str) -> Film | None:
        self._check()
        return self.by_id.get(film_id)

    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        self._check()
        return [self.by_id[i] for i in film_ids if i in self.by_id]

    def genres(self) -> list[GenreCount]:
        self._check()
        counts: dict[tuple[str, str], int] = {}
        for film in self.by_id.values():
            for key in set(zip(stored_genre_ids(film), film.genres, strict=True)):
                counts[key] = counts.get(key, 0) + 1
        return sorted((GenreCount(i, name, n) for (i, name), n in counts.items()), key=lambda g: (g.name, g.genre_id))

    def _persons(self) -> dict[str, Person]:
        return {p.person_id: p for f in self.by_id.values() for role in ROLES for p in f.persons(role)}

    def search_persons(self, query: str, page: int = 1, size: int = 20) -> PersonPage:
        self._check()
        words = name_terms(query)
        found = sorted(
            (p for p in self._persons().values() if words and set(words) <= set(name_terms(p.full_name))),
            key=lambda p: p.person_id,
        )
        return PersonPage(tuple(found[(page - 1) * size : page * size]), len(found))

    def person(self, person_id: str) -> Person | None:
        self._check()
        return self._persons().get(person_id)

    def person_films(self, person_id: str) -> list[Film]:
        self._check()
        credited = [f for f in self.by_id.values() if f.roles_of(person_id)]
        rated = sorted(
            (f for f in credited if f.imdb_rating is not None), key=lambda f: (-(f.imdb_rating or 0), f.film_id)
        )
        return rated + sorted((f for f in credited if f.imdb_rating is None), key=lambda f: f.film_id)

    def films(self) -> Iterator[Film]:
        self._check()
        yield from sorted(self.by_id.values(), key=lambda f: f.film_id)

    def ping(self) -> None:
        self._check()

    def close(self) -> None:
        pass


@dataclass
class FakePublisher(RatingPublisher):
    """Keeps the events it accepted; with ``down`` it accepts nothing, like an unreachable broker."""

    events: list[RatingEvent] = field(default_factory=list)
    down: bool = False
    closed: bool = False
    refuse_with: str | None = None  # the event schema's complaint, raised as InvalidEvent

    def publish(self, event: RatingEvent, timeout_s: float) -> None:
        if self.refuse_with is not None:
            raise InvalidEvent(self.refuse_with)
        if self.down:
            raise PublishError("fake broker is down")
        self.events.append(event)

    def check(self, timeout_s: float) -> None:
        if self.down:
            raise PublishError("fake broker is down")

    def close(self) -> None:
        self.closed = True


def dead_url() -> str:
    """The URL of a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def catalog() -> FakeCatalog:
    return FakeCatalog()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def settings(tmp_path) -> MoviesApiSettings:
    return MoviesApiSettings(
        data_dir=tmp_path, jwt_secret=SECRET, recommendations_api_url=dead_url(), recommendations_timeout_s=0.5
    )


@pytest.fixture
def client(settings: MoviesApiSettings, catalog: FakeCatalog, publisher: FakePublisher) -> Iterator[TestClient]:
    with TestClient(create_app(settings, catalog=catalog, publisher=publisher)) as test_client:
        yield test_client


@pytest.fixture
def auth() -> Callable[..., dict[str, str]]:
    """Authorization headers of a valid token for a user (``operator=True`` adds the role)."""

    def headers(user_id: str = "viewer-1", operator: bool = False, **kwargs: Any) -> dict[str, str]:
        token = issue_token(user_id, SECRET, roles=["operator"] if operator else [], **kwargs)
        return {"Authorization": f"Bearer {token}"}

    return headers
