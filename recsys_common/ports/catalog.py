"""Catalog: the film catalogue the Movies API searches (Elasticsearch in production, SQLite FTS5 embedded).

Reader side: full-text search with a genre filter and sorting, lookups by id, genre counts and the
IMDb top by Bayesian weighted rating (the fallback when no personal list can be had). Writer side,
for the ETL: ``upsert`` films (idempotent by film id) together with the ETL's saved state, so a
restarted ETL goes on from the last batch the catalogue actually holds.

Contract shared by every adapter (checked by one contract test suite):
- text search matches whole words (English stemming, case and diacritics folded) in the title or
  the description; every non-stop word of the query must occur; a blank query means no text filter
  and a query with no searchable word finds nothing;
- the genre filter ignores case; ``sort`` orders with unknown values last and ties broken by film
  id; without ``sort`` the order is relevance for a text query and ``DEFAULT_SORT`` otherwise;
- a page past the end is empty and still reports the total.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, get_args

from recsys_common.domain import Film

SortOrder = Literal["-imdb_rating", "imdb_rating", "-year", "year"]
SORT_ORDERS: tuple[SortOrder, ...] = get_args(SortOrder)
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
    name: str
    film_count: int


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


def check_page(page: int, size: int) -> None:
    """Raise ValueError unless ``page >= 1`` and ``1 <= size <= MAX_PAGE_SIZE``."""
    if page < 1:
        raise ValueError(f"page must be >= 1, got {page}")
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be within 1..{MAX_PAGE_SIZE}, got {size}")


class Catalog(abc.ABC):
    # ----- reader side -----
    @abc.abstractmethod
    def search(
        self,
        query: str | None = None,
        genre: str | None = None,
        sort: SortOrder | None = None,
        page: int = 1,
        size: int = 20,
    ) -> FilmPage:
        """One page (1-based) of films matching the query and genre, and the total number of matches."""

    @abc.abstractmethod
    def get(self, film_id: str) -> Film | None:
        """The film, or None when the catalogue has no such film."""

    @abc.abstractmethod
    def get_many(self, film_ids: Sequence[str]) -> list[Film]:
        """The films in the order of ``film_ids``; unknown ids are skipped."""

    @abc.abstractmethod
    def genres(self) -> list[GenreCount]:
        """Every genre with its number of films, by name."""

    @abc.abstractmethod
    def top_imdb(self, genre: str | None, limit: int) -> list[Film]:
        """Films with an IMDb rating and vote count, best Bayesian weighted rating first.

        The prior is the whole catalogue's: ``C`` is the mean IMDb rating and ``m`` the
        ``recsys_common.bayes.MIN_VOTES_QUANTILE`` quantile of IMDb votes over films with both.
        """

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise CatalogUnavailable unless the catalogue can answer queries."""

    # ----- writer side (ETL) -----
    @abc.abstractmethod
    def upsert(self, films: Iterable[Film], state: EtlState | None = None) -> int:
        """Insert or replace films by id, then record ``state`` (when given); return films written."""

    @abc.abstractmethod
    def etl_state(self) -> EtlState | None:
        """The state saved by the last ``upsert``; None when the catalogue was (re)built since."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
