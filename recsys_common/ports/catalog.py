"""Catalog: the one film registry (Elasticsearch in production, SQLite FTS5 embedded).

Every service reads films from here: the Movies API searches and shows them, the engine takes its
film universe from ``CatalogReader.films``. Two writers fill it through ``CatalogWriter``: the seed
step (``recsys data``) and the Postgres ETL (``python -m movies_db etl``), which also records where
it stopped (``EtlState``) so a restarted ETL goes on from the last batch the catalogue holds.

Contract shared by every adapter (checked by one contract test suite):
- text search matches whole words (English stemming, case and diacritics folded) in the title or
  the description; every non-stop word of the query must occur; a blank query means no text filter
  and a query with no searchable word finds nothing;
- the genre filter ignores case; ``sort`` orders with unknown values last and ties broken by film
  id; without ``sort`` the order is relevance for a text query and ``DEFAULT_SORT`` otherwise;
- a page past the end is empty and still reports the total;
- ``films`` yields every film once, by film id;
- ``upsert`` is idempotent by film id, ``delete`` ignores ids it does not hold;
- a film is read back as written, its ``genre_ids`` filled in (``stored_genre_ids``) when it came
  without; the genres and people a film credits are found until no film credits them any more.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol

from recsys_common.domain import Film, Person
from recsys_common.ids import genre_id_for

SortOrder = Literal["-imdb_rating", "imdb_rating", "-year", "year"]
DEFAULT_SORT: SortOrder = "-imdb_rating"

MAX_PAGE_SIZE = 100

_ENGLISH_STOP_WORDS_TEXT = (
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with"
)
#: Elasticsearch's ``_english_`` stop words: the adapters drop them from queries alike.
ENGLISH_STOP_WORDS = frozenset(_ENGLISH_STOP_WORDS_TEXT.split())

_WORD = re.compile(r"\w+")
_POSSESSIVE = re.compile(r"['\u2019]s\b", re.IGNORECASE)


class CatalogUnavailable(RuntimeError):
    """The catalogue cannot be reached or is not built yet (run the ETL)."""


class FilmPage(NamedTuple):
    films: tuple[Film, ...]
    total: int


class GenreCount(NamedTuple):
    genre_id: str
    name: str
    film_count: int


class PersonPage(NamedTuple):
    persons: tuple[Person, ...]
    total: int


@dataclass(frozen=True)
class EtlState:
    """Where the ETL stopped: the (modified, film id) of the last film it loaded."""

    modified: datetime  # timezone-aware
    last_id: str

    def to_json(self) -> str:
        return json.dumps({"modified": self.modified.isoformat(), "last_id": self.last_id})

    @staticmethod
    def from_json(text: str) -> EtlState:
        """Parse :meth:`to_json` output; raise ValueError naming what is wrong."""
        try:
            raw = json.loads(text)
            modified = datetime.fromisoformat(raw["modified"])
            last_id = str(raw["last_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"ETL state {text[:200]!r} is not valid: {exc}") from exc
        if modified.tzinfo is None:
            raise ValueError(f"ETL state time {raw['modified']!r} has no time zone")
        return EtlState(modified, last_id)


def search_terms(query: str | None) -> tuple[str, ...] | None:
    """The words a text query must match: None for no text filter, () for a query that finds nothing."""
    if query is None or not query.strip():
        return None
    words = _WORD.findall(_POSSESSIVE.sub("", query.lower()))
    return tuple(w for w in words if w not in ENGLISH_STOP_WORDS)


def name_terms(query: str) -> tuple[str, ...]:
    """The words a person query must match (lowercased; no stop word is dropped: "Will" is a name)."""
    return tuple(_WORD.findall(query.lower()))


def stored_genre_ids(film: Film) -> tuple[str, ...]:
    """The ids a catalogue records for the film's genres: the film's own, else derived from the names."""
    return film.genre_ids or tuple(genre_id_for(name) for name in film.genres)


def check_page(page: int, size: int) -> None:
    """Raise ValueError unless ``page >= 1`` and ``1 <= size <= MAX_PAGE_SIZE``."""
    if page < 1:
        raise ValueError(f"page must be >= 1, got {page}")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be within 1..{MAX_PAGE_SIZE}, got {size}")


class CatalogReader(Protocol):
    """What readers of the catalogue use: the Movies API, the engine, the ETL's reconciliation."""

    def search(
        self,
        query: str | None = None,
        genre: str | None = None,
        sort: SortOrder | None = None,
        page: int = 1,
        size: int = 20,
    ) -> FilmPage:
        """One page (1-based) of films matching the query and genre, and the total number of matches."""
        ...

    def get(self, film_id: str) -> Film | None:
        """The film, or None when the catalogue has no such film."""
        ...

    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        """The films in the order of ``film_ids``; unknown ids are skipped."""
        ...

    def genres(self) -> list[GenreCount]:
        """Every genre holding at least one film, with its id and number of films, by name."""
        ...

    def films(self) -> Iterator[Film]:
        """Every film of the catalogue, once each, in film-id order (streamed, not loaded at once)."""
        ...

    def ping(self) -> None:
        """Raise CatalogUnavailable unless the catalogue can answer queries."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class PersonReader(Protocol):
    """The people credited on the catalogue's films (directors, actors, writers)."""

    def search_persons(self, query: str, page: int = 1, size: int = 20) -> PersonPage:
        """One page of people whose name holds every word of ``query`` (case and diacritics folded),
        best match first, ties by person id; a query without a word finds nobody."""
        ...

    def person(self, person_id: str) -> Person | None:
        """The person, or None when no film of the catalogue credits them."""
        ...

    def person_films(self, person_id: str) -> list[Film]:
        """Every film crediting the person in any role, best IMDb rating first (unknown last), then by id."""
        ...


class CatalogView(CatalogReader, PersonReader, Protocol):
    """Both reader sides: what the Movies API serves films and people from."""


class CatalogWriter(Protocol):
    """What writers of the catalogue use: the seed step, ``movies_db add-film`` and the ETL."""

    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        """Insert or replace films by id, then record ``state`` (when given); return films written."""
        ...

    def delete(self, film_ids: Iterable[str]) -> int:
        """Remove films by id (unknown ids are ignored); return films removed."""
        ...

    def etl_state(self) -> EtlState | None:
        """The state saved by the last ``upsert``; None when the catalogue was (re)built since."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class Catalog(CatalogReader, PersonReader, CatalogWriter, Protocol):
    """Every side: what an adapter implements, and what the ETL (which reconciles deletions) uses.

    ``upsert`` also records the films' genres (with their ids) and people, so the readers find them.
    """
