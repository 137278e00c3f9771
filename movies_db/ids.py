"""Stable ids of the movies database: genres and film-genre links are uuid5 of their names."""

from __future__ import annotations

import uuid

#: Namespace of genre ids. Never change it: ids are stored in the database.
GENRE_NAMESPACE = uuid.UUID("0b6c0d55-3f0e-5b8e-a1c4-8f2d6e9a4b17")
#: Namespace of the ids of film-genre links.
GENRE_LINK_NAMESPACE = uuid.UUID("9d41f6a2-7c35-5e0b-b8d9-2a6f1c3e5d80")


def genre_id_for(name: str) -> str:
    """Return the id (canonical UUID string) of the genre called ``name``."""
    if not name.strip():
        raise ValueError("genre name must not be blank")
    return str(uuid.uuid5(GENRE_NAMESPACE, name))


def genre_link_id_for(film_id: str, genre_id: str) -> str:
    """Return the id of the link between a film and a genre."""
    return str(uuid.uuid5(GENRE_LINK_NAMESPACE, f"{film_id}/{genre_id}"))
