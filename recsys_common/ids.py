"""Stable identifiers: film ids are uuid5 of their source id, user ids and event ids are opaque text.

The identifier rule, defined here and only here (the event schema, the publishers, the rating stores
and the HTTP edges all call these validators):

* A **user id** is 1..``USER_ID_MAX_LEN`` (128) characters (Unicode code points) of text; an
  **event id** is 1..``EVENT_ID_MAX_LEN`` (128) characters of the same alphabet.
* The alphabet is every Unicode character except the control characters (category Cc: U+0000 to
  U+001F, U+007F to U+009F) and the surrogate code points (U+D800 to U+DFFF). What is left is
  exactly the text that prints on one line of a log and encodes to UTF-8, which is what Kafka keys,
  JSON and ClickHouse ``String`` columns carry. Letters of any script, digits, spaces and
  punctuation are allowed, so seed ids such as ``ml100k:1`` and ``rt-critic:Jane Doe`` are valid.
* A user id must not hold the line and paragraph separators (U+2028, U+2029) either (they break
  a log line as a newline does), nor ``/``: the APIs put user ids in URL paths, and routers decode a
  percent-encoded ``%2F`` before matching (Starlette does), so such a user could never read the
  lists published for them; refusing it at every edge (tokens, rating events, stores) means no such
  list is ever published. The other reserved URL characters (``? # % &`` and the rest) are allowed:
  wherever an id goes into a URL path it is percent-encoded as ONE path segment,
  ``urllib.parse.quote(user_id, safe="")``, and the server decodes the segment before validating it.
  Event ids may hold ``/``.
* Nothing is normalised: ids are compared code point by code point, as stored.

Film ids are canonical lowercase UUID strings; ``parse_film_id`` accepts the other spellings that
``uuid.UUID`` reads (upper case, braces, no dashes) and returns the canonical one.
"""

from __future__ import annotations

import re
import uuid

#: Namespace of every film id of the platform. Never change it: ids are stored everywhere.
FILM_NAMESPACE = uuid.UUID("5f3c1a2e-8b1d-5c7a-9e44-6d2b0f9a7c31")
#: Namespace of genre ids derived from genre names (the movies database may hold its own ids).
GENRE_NAMESPACE = uuid.UUID("0b6c0d55-3f0e-5b8e-a1c4-8f2d6e9a4b17")
#: Namespace of person ids derived from names (seed sources know people by name only).
PERSON_NAMESPACE = uuid.UUID("3e9a7c21-5b4d-5f80-9c6e-1d2b8a7f4e35")

USER_ID_MAX_LEN = 128
EVENT_ID_MAX_LEN = 128
#: The characters no identifier may hold: control characters (Cc) and surrogates (not UTF-8 text).
FORBIDDEN_ID_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: The characters no user id may hold: those, the line and paragraph separators (they break a log
#: line as a newline does), and "/".
FORBIDDEN_IN_USER_ID = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff/]")
PATH_SEPARATOR = "/"
_LINE_SEPARATORS = ("\u2028", "\u2029")

_SURROGATES = ("\ud800", "\udfff")
_forbidden_character = FORBIDDEN_ID_CHARACTERS.search
_canonical_uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").fullmatch


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


def parse_film_id(value: object) -> str:
    """Return the canonical form of a film id, or raise ValueError naming the bad value."""
    if type(value) is str and _canonical_uuid(value):
        return value
    if not isinstance(value, str):
        raise ValueError(f"film id must be a string, got {type(value).__name__}")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ValueError(f"film id {value!r} is not a UUID") from exc


def validate_user_id(value: object) -> str:
    """Return the user id unchanged, or raise ValueError saying what the rule (above) forbids."""
    user_id = _identifier("user id", value, USER_ID_MAX_LEN)
    if PATH_SEPARATOR in user_id:
        raise ValueError("user id must not contain '/'")
    if any(separator in user_id for separator in _LINE_SEPARATORS):
        raise ValueError("user id must not contain control characters")
    return user_id


def validate_event_id(value: object) -> str:
    """Return the event id unchanged, or raise ValueError saying what the rule (above) forbids."""
    return _identifier("event id", value, EVENT_ID_MAX_LEN)


def _identifier(kind: str, value: object, max_len: int) -> str:
    # The common case first, in one test; ASCII text is printable exactly when it holds no control character.
    if (
        type(value) is str
        and 0 < len(value) <= max_len
        and ((value.isascii() and value.isprintable()) or not _forbidden_character(value))
    ):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{kind} must be a string, got {type(value).__name__}")
    if not value:
        raise ValueError(f"{kind} must not be empty")
    if len(value) > max_len:
        raise ValueError(f"{kind} must be at most {max_len} characters, got {len(value)}")
    found = _forbidden_character(value)
    if found is not None:
        surrogate = _SURROGATES[0] <= found.group() <= _SURROGATES[1]
        raise ValueError(f"{kind} must not contain {'surrogates' if surrogate else 'control characters'}")
    return value
