"""Stable ids of the movies database's link rows (genres' and persons' ids are in ``recsys_common.ids``)."""

from __future__ import annotations

import uuid

from recsys_common.domain import Film
from recsys_common.ids import genre_id_for

#: Namespaces of the ids of film-genre and film-person links. Never change them: ids are stored in the database.
GENRE_LINK_NAMESPACE = uuid.UUID("9d41f6a2-7c35-5e0b-b8d9-2a6f1c3e5d80")
PERSON_LINK_NAMESPACE = uuid.UUID("c7b2e4a9-1f63-5d08-8a5e-4b9d2f6c1e07")


def genre_link_id_for(film_id: str, genre_id: str) -> str:
    """Return the id of the link between a film and a genre."""
    return str(uuid.uuid5(GENRE_LINK_NAMESPACE, f"{film_id}/{genre_id}"))


def person_link_id_for(film_id: str, person_id: str, role: str) -> str:
    """Return the id of the link giving a person a role on a film."""
    return str(uuid.uuid5(PERSON_LINK_NAMESPACE, f"{film_id}/{person_id}/{role}"))


def genre_ids_of(film: Film) -> tuple[str, ...]:
    """The ids of the film's genres, position by position: its own, else derived from the names."""
    return film.genre_ids or tuple(genre_id_for(name) for name in film.genres)
