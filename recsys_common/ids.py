"""Stable identifiers: film ids are uuid5 of their source id, user ids are opaque strings."""

from __future__ import annotations

import re
import uuid

#: Namespace of every film id of the platform. Never change it: ids are stored everywhere.
FILM_NAMESPACE = uuid.UUID("5f3c1a2e-8b1d-5c7a-9e44-6d2b0f9a7c31")

USER_ID_MAX_LEN = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def film_id_for(source_id: str) -> str:
    """Return the platform's film id (canonical UUID string) of a source id like ``ml100k:1``."""
    if not source_id:
        raise ValueError("source id must not be empty")
    return str(uuid.uuid5(FILM_NAMESPACE, source_id))


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
    if _CONTROL.search(value):
        raise ValueError("user id must not contain control characters")
    return value
