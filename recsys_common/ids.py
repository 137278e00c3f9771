"""Stable identifiers: film ids are uuid5 of their source id, user ids are opaque strings."""

from __future__ import annotations

import re
import uuid

#: Namespace of every film id of the platform. Never change it: ids are stored everywhere.
FILM_NAMESPACE = uuid.UUID("5f3c1a2e-8b1d-5c7a-9e44-6d2b0f9a7c31")

#: Namespace of genre ids derived from genre names (the movies database may hold its own ids).
GENRE_NAMESPACE = uuid.UUID("0b6c0d55-3f0e-5b8e-a1c4-8f2d6e9a4b17")
#: Namespace of person ids derived from names (seed sources know people by name only).
PERSON_NAMESPACE = uuid.UUID("3e9a7c21-5b4d-5f80-9c6e-1d2b8a7f4e35")

#: A user id is an opaque string of 1..USER_ID_MAX_LEN characters of any script, except the
#: characters ``FORBIDDEN_IN_USER_ID`` matches: control characters (C0, DEL, C1), the line and
#: paragraph separators, lone surrogates (not text: they cannot be encoded as UTF-8) and "/" (the
#: APIs put user ids in URL paths, where a percent-encoded "/" is decoded before routing, so such
#: an id could never be read back). Every edge (tokens, rating events, stores, loaders) applies it.
USER_ID_MAX_LEN = 128
FORBIDDEN_IN_USER_ID = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff/]")


def film_id_for(source_id: str) -> str:
    """Return the platform's film id (canonical UUID string) of a source id like ``ml100k:1``."""
    if not source_id:
        raise ValueError("source id must not be empty")
    return str(uuid.uuid5(FILM_NAMESPACE, source_id))


def genre_id_for(name: str) -> str:
    """Return the id (canonical UUID string) of the genre called ``name``."""
    if not name.strip():
        raise ValueError("genre name must not be blank")
    return str(uuid.uuid5(GENRE_NAMESPACE, name))


def person_id_for(full_name: str) -> str:
    """Return the id of a person known only by name (whitespace and case folded)."""
    key = " ".join(full_name.casefold().split())
    if not key:
        raise ValueError("person name must not be blank")
    return str(uuid.uuid5(PERSON_NAMESPACE, key))


def parse_film_id(value: str) -> str:
    """Return the canonical form of a film id, or raise ValueError naming the bad value."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError(f"film id {value!r} is not a UUID") from exc


def validate_user_id(value: str) -> str:
    """Return the user id unchanged, or raise ValueError saying what is allowed."""
    if not value:
        raise ValueError("user id must not be empty")
    if len(value) > USER_ID_MAX_LEN:
        raise ValueError(f"user id must be at most {USER_ID_MAX_LEN} characters, got {len(value)}")
    bad = FORBIDDEN_IN_USER_ID.search(value)
    if bad is not None:
        char = bad.group()
        if char == "/":
            raise ValueError("user id must not contain '/'")
        if "\ud800" <= char <= "\udfff":
            raise ValueError("user id must not contain lone surrogates")
        raise ValueError("user id must not contain control characters")
    return value
