"""Domain types shared by every service."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

#: The platform's rating scale. Seed sets on other scales are mapped onto it when loaded.
RATING_MIN = 1.0
RATING_MAX = 10.0
#: The rating of a removal: an event with it (a tombstone) withdraws the viewer's rating of the film.
#: Stores keep it like any rating, as the latest row of the (user, film) pair; every reader of the
#: latest ratings (``RatingSource.read_all`` / ``read_user``) leaves such pairs out, so the engine,
#: the online loop and the APIs no longer see the film as rated. A later rating brings it back.
RATING_REMOVED = 0.0
#: A rating at least this high says the viewer liked the film: the films a recommendation's reason
#: ("because you rated ...") is chosen from, and the films the viewer's favourite genres come from.
LIKED_RATING = 7.0


@dataclass(frozen=True)
class RatingEvent:
    """One viewer's rating of one film, as published by the Movies API and stored in ClickHouse."""

    event_id: str
    user_id: str
    film_id: str
    rating: float
    timestamp: int  # event time, unix seconds (UTC)


class Source(StrEnum):
    """Which lists answered a request for recommendations (both APIs say it as ``source``)."""

    PERSONAL = "personal"
    #: The user's lists folded in after their latest ratings (the online loop), newer than the batch's.
    OVERLAY = "overlay"
    COLD_START = "cold_start"
    #: The Recommendations API: the store is unreachable; the Movies API: the Recommendations API is.
    FALLBACK = "fallback"


#: Roles of a person on a film, as the standard movies schema's ``person_film_work.role`` spells them.
DIRECTOR = "director"
ACTOR = "actor"
WRITER = "writer"
ROLES = (DIRECTOR, ACTOR, WRITER)


@dataclass(frozen=True)
class Person:
    """Somebody credited on films (the standard movies schema's ``person``)."""

    person_id: str
    full_name: str


@dataclass(frozen=True)
class Film:
    """A film of the catalogue.

    ``genre_ids`` are the ids of ``genres``, position by position, as the movies database knows
    them; empty when the source has none (then ``recsys_common.ids.genre_id_for`` derives them).
    """

    film_id: str
    title: str
    year: int | None = None
    genres: tuple[str, ...] = ()
    imdb_rating: float | None = None
    imdb_votes: int | None = None
    rt_rating: float | None = None
    description: str = ""
    directors: tuple[Person, ...] = ()
    actors: tuple[Person, ...] = ()
    writers: tuple[Person, ...] = ()
    genre_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.genre_ids and len(self.genre_ids) != len(self.genres):
            raise ValueError(f"film {self.film_id}: {len(self.genre_ids)} genre ids for {len(self.genres)} genres")

    def persons(self, role: str) -> tuple[Person, ...]:
        """The film's people in ``role`` (one of ``ROLES``)."""
        by_role = {DIRECTOR: self.directors, ACTOR: self.actors, WRITER: self.writers}
        if role not in by_role:
            raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
        return by_role[role]

    def roles_of(self, person_id: str) -> tuple[str, ...]:
        """The roles ``person_id`` has on this film (in ``ROLES`` order; empty when none)."""
        return tuple(role for role in ROLES if any(p.person_id == person_id for p in self.persons(role)))


@dataclass(frozen=True)
class UserLists:
    """A user's published lists, as film ids, best first; ``overlay`` when they come from the online
    loop (the user folded into the serving model after their latest ratings) rather than the batch;
    ``reasons``: must-watch film id -> the rated film id behind it ("because you rated ..."), for
    the films that have one."""

    must_watch: tuple[str, ...]
    by_genre: dict[str, tuple[str, ...]] = field(default_factory=dict)
    overlay: bool = False
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColdStartLists:
    """Lists for anonymous and new users: IMDb-top overall and per genre."""

    overall: tuple[str, ...]
    by_genre: dict[str, tuple[str, ...]] = field(default_factory=dict)
