"""Domain types shared by every service."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The platform's rating scale. Seed sets on other scales are mapped onto it when loaded.
RATING_MIN = 1.0
RATING_MAX = 10.0


@dataclass(frozen=True)
class RatingEvent:
    """One viewer's rating of one film, as published by the Movies API and stored in ClickHouse."""

    event_id: str
    user_id: str
    film_id: str
    rating: float
    timestamp: int  # event time, unix seconds (UTC)


@dataclass(frozen=True)
class Film:
    """A film of the catalogue."""

    film_id: str
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    imdb_rating: float | None = None
    imdb_votes: int | None = None
    rt_rating: float | None = None
    description: str = ""


@dataclass(frozen=True)
class UserLists:
    """A user's published lists, as film ids, best first."""

    must_watch: tuple[str, ...]
    by_genre: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ColdStartLists:
    """Lists for anonymous and new users: IMDb-top overall and per genre."""

    overall: tuple[str, ...]
    by_genre: dict[str, tuple[str, ...]] = field(default_factory=dict)
