"""The identifier rule: one alphabet and length for user ids and event ids, canonical film ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from urllib.parse import quote, unquote

import pytest

from recsys_common.ids import (
    EVENT_ID_MAX_LEN,
    USER_ID_MAX_LEN,
    film_id_for,
    genre_id_for,
    parse_film_id,
    person_id_for,
    validate_event_id,
    validate_user_id,
)

VALIDATORS = [(validate_user_id, "user id", USER_ID_MAX_LEN), (validate_event_id, "event id", EVENT_ID_MAX_LEN)]
ACCEPTED = [
    "42",
    "ml100k:1",
    "rt-critic:Jane Doe",
    "a?c#d%e&f=g",
    " padded ",
    "Zoë",
    "日本語",
    "🎬",
    "\u200b",
    "\ufeff",
    "\U0010ffff",
]
#: Every control character (Cc) and both ends of the surrogate range.
FORBIDDEN = [chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)]] + ["\ud800", "\udbff", "\udc00", "\udfff"]


@pytest.mark.parametrize(("validate", "kind", "max_len"), VALIDATORS)
@pytest.mark.parametrize("value", ACCEPTED)
def test_text_without_control_characters_or_surrogates_is_a_valid_id(
    validate: Callable[[object], str], kind: str, max_len: int, value: str
) -> None:
    assert validate(value) is value
    value.encode("utf-8")


@pytest.mark.parametrize(("validate", "kind", "max_len"), VALIDATORS)
@pytest.mark.parametrize("character", FORBIDDEN)
def test_control_characters_and_surrogates_are_refused_anywhere(
    validate: Callable[[object], str], kind: str, max_len: int, character: str
) -> None:
    what = "surrogates" if "\ud800" <= character <= "\udfff" else "control characters"
    for value in (character, f"a{character}", f"{character}b", f"a{character}b"):
        with pytest.raises(ValueError, match=f"^{kind} must not contain {what}$"):
            validate(value)


@pytest.mark.parametrize(("validate", "kind", "max_len"), VALIDATORS)
def test_length_is_counted_in_characters(validate: Callable[[object], str], kind: str, max_len: int) -> None:
    assert validate("é" * max_len) == "é" * max_len
    with pytest.raises(ValueError, match=f"{kind} must be at most {max_len} characters, got {max_len + 1}"):
        validate("é" * (max_len + 1))
    with pytest.raises(ValueError, match=f"{kind} must not be empty"):
        validate("")


@pytest.mark.parametrize(("validate", "kind", "max_len"), VALIDATORS)
@pytest.mark.parametrize("value", [None, 7, 7.0, b"bytes", ["a"]])
def test_non_strings_are_refused(validate: Callable[[object], str], kind: str, max_len: int, value: object) -> None:
    with pytest.raises(ValueError, match=f"{kind} must be a string, got {type(value).__name__}"):
        validate(value)


def test_a_slash_is_refused_in_user_ids_and_allowed_in_event_ids() -> None:
    for value in ("/", "a/b", "ml100k:1/"):
        with pytest.raises(ValueError, match=r"^user id must not contain '/'$"):
            validate_user_id(value)
        assert validate_event_id(value) == value


def test_derived_ids_fold_names_and_refuse_blanks() -> None:
    assert person_id_for("Sergio  LEONE") == person_id_for("sergio leone")
    assert genre_id_for("Drama") != genre_id_for("drama")  # genre names are exact
    for derive in (person_id_for, genre_id_for):
        with pytest.raises(ValueError, match="blank"):
            derive("  ")


@pytest.mark.parametrize("user_id", ACCEPTED)
def test_a_valid_user_id_survives_a_url_path_segment(user_id: str) -> None:
    segment = quote(user_id, safe="")
    assert "/" not in segment
    assert validate_user_id(unquote(segment)) == user_id


def test_film_ids_are_canonical_uuid_strings() -> None:
    film = film_id_for("ml100k:1")
    assert str(uuid.UUID(film)) == film
    for spelling in (film, film.upper(), film.replace("-", ""), "{" + film + "}", f"urn:uuid:{film}"):
        assert parse_film_id(spelling) == film


@pytest.mark.parametrize(
    ("value", "reason"),
    [("42", "film id '42' is not a UUID"), ("", "is not a UUID"), ("\ud800", "is not a UUID"), (7, "got int")],
)
def test_bad_film_ids_are_refused(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_film_id(value)
