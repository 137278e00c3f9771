"""The rating event schema: the wire codec on every class of poison, derived event ids, frame validation."""

from __future__ import annotations

import dataclasses
import json
import random
import uuid

import msgspec
import numpy as np
import pandas as pd
import pytest

from recsys_common.columns import Columns
from recsys_common.domain import RATING_REMOVED, RatingEvent
from recsys_common.events import (
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_EVENT_DEPTH,
    EVENT_NAMESPACE,
    TIMESTAMP_MAX,
    EventDecoder,
    InvalidEvent,
    RatingRows,
    WireEvent,
    encode_event,
    event_id_for,
    event_ids_for,
    nesting_depth,
    prepare_rating_rows,
    ratings_frame,
    validate_event,
)
from recsys_common.ids import film_id_for

FILM = film_id_for("events:1")
GOOD = {"event_id": "e-1", "user_id": "alice", "film_id": FILM, "rating": 7.5, "timestamp": 1_700_000_000}
STRING_FIELDS = ("event_id", "user_id", "film_id")
#: Stands for a JSON string literal put into a message verbatim (escapes and all).
RAW = "@@raw@@"
decoder = EventDecoder()


def wire(**changes: object) -> bytes:
    """A message like GOOD with ``changes``; ``...`` drops a field."""
    document = {**GOOD, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


def wire_with_raw_string(field: str, literal: str) -> bytes:
    """GOOD with one field's string written as the JSON text ``literal`` (e.g. a lone surrogate escape)."""
    return wire(**{field: RAW}).replace(f'"{RAW}"'.encode(), f'"{literal}"'.encode())


def fields(event: WireEvent) -> tuple[object, ...]:
    return msgspec.structs.astuple(event)


def reason_of(raw: bytes | None, codec: EventDecoder = decoder) -> str:
    with pytest.raises(InvalidEvent) as caught:
        codec.decode(raw)
    return caught.value.reason


def test_encode_then_decode_round_trips() -> None:
    event = RatingEvent(str(uuid.uuid4()), "alice", FILM, 7.5, 1_700_000_000)
    assert fields(decoder.decode(encode_event(event))) == dataclasses.astuple(event)


def test_the_wire_form_is_the_documented_json_object() -> None:
    event = RatingEvent("e-1/2", "rt-critic:Zoë & Ann", FILM.upper(), 8, 5)
    assert json.loads(encode_event(event)) == {
        "event_id": "e-1/2",
        "user_id": "rt-critic:Zoë & Ann",
        "film_id": FILM,
        "rating": 8.0,
        "timestamp": 5,
    }


def test_decode_canonicalises_film_ids_and_ignores_unknown_keys() -> None:
    assert decoder.decode(wire(film_id=FILM.upper(), source="web")).film_id == FILM
    assert decoder.decode(wire(film_id="{" + FILM.replace("-", "") + "}")).film_id == FILM
    assert fields(decoder.decode(wire(rating=8))) == ("e-1", "alice", FILM, 8.0, 1_700_000_000)
    assert decoder.decode(wire(extra={"nested": [1, [2, {"x": "\u00e9"}]]})).user_id == "alice"


def test_a_repeated_key_counts_with_its_last_value_and_every_value_must_have_the_right_type() -> None:
    doubled = wire().replace(b'"user_id": "alice"', b'"user_id": "mallory", "user_id": "alice"')
    assert decoder.decode(doubled).user_id == "alice"
    assert "user id" in reason_of(wire().replace(b'"user_id": "alice"', b'"user_id": "alice", "user_id": ""'))
    assert "got `str`" in reason_of(wire().replace(b'"rating": 7.5', b'"rating": "x", "rating": 7.5'))
    assert "<= 10.0" in reason_of(wire().replace(b'"rating": 7.5', b'"rating": 70, "rating": 7.5'))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        # no value, empty, malformed
        (None, "message has no value"),
        (b"", "not JSON"),
        (b"   ", "not JSON"),
        (b"{nope", "not JSON"),
        (wire()[:-1], "not JSON"),
        (wire() + b' {"x": 1}', "trailing characters"),
        (b"\xef\xbb\xbf" + wire(), "not JSON"),
        # non-finite and out-of-range scores
        (wire().replace(b"7.5", b"NaN"), "not JSON"),
        (wire().replace(b"7.5", b"Infinity"), "not JSON"),
        (wire().replace(b"7.5", b"-Infinity"), "not JSON"),
        (wire().replace(b"7.5", b"1e400"), "Number out of range"),
        (wire(rating=10.5), "Expected `float` <= 10.0 - at `$.rating`"),
        (wire(rating=0.5), "rating must be within 1..10, or 0 to remove one"),
        (wire(rating=-7), "Expected `float` >= 0.0 - at `$.rating`"),
        (wire(timestamp=-1), "Expected `int` >= 0 - at `$.timestamp`"),
        (wire(timestamp=TIMESTAMP_MAX + 1), f"<= {TIMESTAMP_MAX}"),
        (wire(timestamp=10**30), f"<= {TIMESTAMP_MAX}"),
        # wrong types
        (wire(rating="7"), "Expected `float`, got `str` - at `$.rating`"),
        (wire(rating=True), "Expected `float`, got `bool`"),
        (wire(rating=None), "Expected `float`, got `null`"),
        (wire(rating=[7]), "Expected `float`, got `array`"),
        (wire(timestamp=1.5), "Expected `int`, got `float` - at `$.timestamp`"),
        (wire(timestamp=1.0), "Expected `int`, got `float`"),
        (wire(timestamp="1"), "Expected `int`, got `str`"),
        (wire(event_id=7), "Expected `str`, got `int` - at `$.event_id`"),
        (wire(user_id=None), "Expected `str`, got `null` - at `$.user_id`"),
        (wire(film_id={"id": FILM}), "Expected `str`, got `object` - at `$.film_id`"),
        # bad identifiers
        (wire(event_id=""), "event id must not be empty"),
        (wire(event_id="x" * 129), "event id must be at most 128 characters"),
        (wire(user_id=""), "user id must not be empty"),
        (wire(user_id="u" * 129), "user id must be at most 128 characters"),
        (wire(film_id="42"), "film id '42' is not a UUID"),
        (wire(film_id=""), "is not a UUID"),
        # missing fields, non-object JSON
        (wire(rating=...), "Object missing required field `rating`"),
        (wire(user_id=..., timestamp=...), "Object missing required field `user_id`"),
        (b"{}", "Object missing required field `event_id`"),
        (b"[1, 2]", "Expected `object`, got `array`"),
        (b'"a string"', "Expected `object`, got `str`"),
        (b"7", "Expected `object`, got `int`"),
        (b"null", "Expected `object`, got `null`"),
        (b"true", "Expected `object`, got `bool`"),
        # invalid UTF-8: in a field, in an ignored field, a surrogate encoded as UTF-8
        (b'{"user_id": "\xff"}', "not UTF-8: invalid start byte at byte 13"),
        (wire(extra="@@").replace(b"@@", b"\xc3\x28"), "not UTF-8: invalid continuation byte"),
        (wire(user_id="@@").replace(b"@@", b"\xed\xa0\x80"), "not UTF-8"),
        (wire(user_id="@@").replace(b"@@", b"ab\xf0\x9f"), "not UTF-8"),
    ],
)
def test_decode_rejects_bad_messages_with_a_reason(raw: bytes | None, reason: str) -> None:
    assert reason in reason_of(raw)


@pytest.mark.parametrize("field", [*STRING_FIELDS, "extra"])
@pytest.mark.parametrize("literal", ["\\ud800", "\\udfff", "x\\ud800y", "\\ud800\\ud800", "\\udc00\\ud800"])
def test_lone_surrogate_escapes_are_refused_in_every_string(field: str, literal: str) -> None:
    assert "not JSON" in reason_of(wire_with_raw_string(field, literal))


def test_an_escaped_surrogate_pair_is_text() -> None:
    assert decoder.decode(wire_with_raw_string("user_id", "\\ud83c\\udfac")).user_id == "\U0001f3ac"


@pytest.mark.parametrize("field", ["event_id", "user_id"])
@pytest.mark.parametrize("control", ["\x00", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
def test_control_characters_are_refused_in_identifiers(field: str, control: str) -> None:
    reason = reason_of(wire(**{field: f"a{control}b"}))
    assert f"{field.replace('_', ' ')} must not contain control characters" in reason


@pytest.mark.parametrize("control", ["\x00", "\n", "\x85"])
def test_control_characters_are_refused_in_film_ids(control: str) -> None:
    assert "is not a UUID" in reason_of(wire(film_id=FILM[:8] + control + FILM[9:]))


def test_a_message_over_the_size_limit_is_refused_before_parsing() -> None:
    huge = wire(padding="x" * DEFAULT_MAX_EVENT_BYTES)
    assert f"bytes, more than the limit of {DEFAULT_MAX_EVENT_BYTES}" in reason_of(huge)
    small = EventDecoder(max_bytes=len(wire()))
    assert small.decode(wire()).event_id == "e-1"
    assert "more than the limit" in reason_of(wire(event_id="e-10"), small)


def test_deep_nesting_is_refused_before_parsing_whatever_the_size_limit() -> None:
    roomy = EventDecoder(max_bytes=10**7)
    for depth in (DEFAULT_MAX_EVENT_DEPTH, 10_000, 1_000_000):
        deep = wire(extra=RAW).replace(f'"{RAW}"'.encode(), b"[" * depth + b"]" * depth)
        assert f"nests {depth + 1} levels deep, more than the limit of {DEFAULT_MAX_EVENT_DEPTH}" in reason_of(
            deep, roomy
        )
    unclosed = b'{"x": ' + b"[" * 100_000
    assert "nests 100001 levels deep" in reason_of(unclosed, roomy)


def test_nesting_up_to_the_limit_and_brackets_inside_strings_are_fine() -> None:
    limit = DEFAULT_MAX_EVENT_DEPTH
    nested = wire(extra=RAW).replace(f'"{RAW}"'.encode(), b"[" * (limit - 1) + b"]" * (limit - 1))
    assert decoder.decode(nested).event_id == "e-1"
    assert decoder.decode(wire(user_id="[{" * 60, extra="[[[" * 100)).user_id == "[{" * 60


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"", 0),
        (b"7", 0),
        (b"{}", 1),
        (b'{"a": [[1], {"b": []}]}', 4),
        (b'{"a": "[[[[", "b": "\\"[["}', 1),
        (b'"[[[', 3),  # unterminated string: its brackets count (never an underestimate)
        (b"]]]", 0),
    ],
)
def test_nesting_depth_ignores_brackets_inside_strings(text: bytes, depth: int) -> None:
    assert nesting_depth(text) == depth


def test_decoder_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_bytes=0"):
        EventDecoder(max_bytes=0)
    with pytest.raises(ValueError, match="max_depth=0"):
        EventDecoder(max_depth=0)


def mutations(seed: int, count: int) -> list[bytes]:
    """Random byte strings and random edits (flip, cut, insert, duplicate) of valid messages."""
    rng = random.Random(seed)
    alphabet = b'{}[]",:\\u0123456789abcdefnrtlsuxe.+- \x00\x7f\x80\xc3\xed\xf0\xff'
    valid = [wire(), wire(user_id="Zoë 🎬", film_id=FILM.upper()), wire(rating=1, extra=[{"a": None}])]
    out: list[bytes] = []
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(bytes(rng.choice(alphabet) for _ in range(rng.randrange(64))))
            continue
        data = bytearray(rng.choice(valid))
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(data) + 1)
            if kind == 1 and data:
                data[min(at, len(data) - 1)] = rng.choice(alphabet)
            elif kind == 2:
                data[at:] = data[at:][rng.randrange(1, 8) :]
            else:
                data[at:at] = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 6)))
        out.append(bytes(data))
    return out


def test_any_bytes_decode_to_a_storable_event_or_raise_invalid_event_only() -> None:
    accepted = 0
    for raw in mutations(seed=11, count=20_000):
        try:
            event = decoder.decode(raw)
        except InvalidEvent:
            continue  # any other exception fails the test
        accepted += 1
        for text in (event.event_id, event.user_id, event.film_id):
            text.encode("utf-8")  # what the ClickHouse driver does with a String value
        assert 1.0 <= event.rating <= 10.0 or event.rating == RATING_REMOVED
        assert 0 <= event.timestamp <= TIMESTAMP_MAX
    assert accepted > 0  # some edits keep a message valid: the test exercises both outcomes


def test_encode_refuses_an_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match=r"rating must be within 1\.\.10, or 0 to remove one"):
        encode_event(RatingEvent("e", "alice", FILM, 0.9, 0))
    with pytest.raises(InvalidEvent, match="user id must not contain surrogates"):
        encode_event(RatingEvent("e", "alice\ud800", FILM, 5.0, 0))
    with pytest.raises(InvalidEvent, match="event id must not contain control characters"):
        encode_event(RatingEvent("e\x00", "alice", FILM, 5.0, 0))


def test_validate_event_canonicalises_the_film_id() -> None:
    event = RatingEvent("e", "alice", FILM.upper(), 5, 3)
    assert validate_event(event) == RatingEvent("e", "alice", FILM, 5.0, 3)


BASE: tuple[object, ...] = ("e-1", "alice", FILM, 7.5, 1_700_000_000)
VARIANTS: dict[int, list[object]] = {
    0: ["", "x" * 128, "x" * 129, "a\x00b", "a\x85b", "a\ud800b", 7, None],
    1: ["", "u" * 128, "u" * 129, "tab\tbed", "Zoë/🎬", "\udfff", 3.0, None],
    2: [FILM.upper(), "{" + FILM + "}", FILM.replace("-", ""), "42", "", "\ud800", None],
    3: [1, 10, 0.99, 10.01, float("nan"), float("inf"), True, "5", None],
    4: [0, TIMESTAMP_MAX, -1, TIMESTAMP_MAX + 1, 1.0, True, "1", None],
}


def decode_outcome(values: tuple[object, ...]) -> tuple[str, object]:
    names = list(GOOD)
    document = dict(zip(names, values, strict=True))
    try:
        raw = msgspec.json.encode(document)
    except (UnicodeEncodeError, msgspec.EncodeError):
        return "rejected", "not encodable"  # a surrogate cannot even be written as UTF-8 JSON
    if any(isinstance(v, float) and not np.isfinite(v) for v in values):
        raw = json.dumps(document).encode()  # NaN / Infinity literals, as Python's json writes them
    try:
        return "accepted", fields(decoder.decode(raw))
    except InvalidEvent:
        return "rejected", None


def encode_outcome(values: tuple[object, ...]) -> tuple[str, object]:
    try:
        return "accepted", fields(decoder.decode(encode_event(RatingEvent(*values))))  # type: ignore[arg-type]
    except InvalidEvent:
        return "rejected", None


@pytest.mark.parametrize(
    "values",
    [BASE, *[(*BASE[:i], value, *BASE[i + 1 :]) for i, values in VARIANTS.items() for value in values]],
)
def test_the_publisher_and_the_loader_accept_the_same_events(values: tuple[object, ...]) -> None:
    decoded, encoded = decode_outcome(values), encode_outcome(values)
    assert decoded[0] == encoded[0]
    if decoded[0] == "accepted":
        assert decoded[1] == encoded[1]


def test_whitespace_around_a_document_is_accepted() -> None:
    assert decoder.decode(b"  " + wire() + b"\n").event_id == "e-1"


def test_rows_of_decoded_events_keep_their_order_and_types() -> None:
    events = [decoder.decode(wire(event_id=f"e{i}", rating=1 + i)) for i in range(3)]
    rows = RatingRows.from_events(events)
    assert rows.event_id.tolist() == ["e0", "e1", "e2"]
    assert rows.rating.dtype == np.float64
    assert rows.rating.tolist() == [1.0, 2.0, 3.0]
    assert rows.timestamp.dtype == np.int64
    assert len(RatingRows.from_events([])) == 0


def test_derived_event_ids_are_uuid5_of_user_film_and_time() -> None:
    expected = str(uuid.uuid5(EVENT_NAMESPACE, f"alice|{FILM}|1700000000"))
    assert event_id_for("alice", FILM, 1_700_000_000) == expected


def test_bulk_derived_ids_equal_the_single_ones() -> None:
    rng = np.random.default_rng(3)
    users = [f"user-{i}-é" for i in rng.integers(0, 50, 500)]
    films = [film_id_for(f"f:{i}") for i in rng.integers(0, 50, 500)]
    times = rng.integers(0, TIMESTAMP_MAX, 500)

    bulk = event_ids_for(users, films, times)

    assert bulk == [event_id_for(u, f, int(t)) for u, f, t in zip(users, films, times, strict=True)]
    assert all(uuid.UUID(one).version == 5 for one in bulk)
    assert event_ids_for([], [], []) == []


def test_prepare_rating_rows_derives_ids_and_keeps_given_ones() -> None:
    frame = ratings_frame(["a", "b"], [FILM, FILM.upper()], [1.0, 10.0], [5, 6])

    rows = prepare_rating_rows(frame)

    assert rows.event_id.tolist() == [event_id_for("a", FILM, 5), event_id_for("b", FILM, 6)]
    assert rows.film_id.tolist() == [FILM, FILM]
    frame[Columns.EventId] = ["x", "y"]
    assert prepare_rating_rows(frame).event_id.tolist() == ["x", "y"]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        (Columns.User, None, "user_id is missing"),
        (Columns.User, 17, "user id must be a string, got int"),
        (Columns.User, "a\ud800", "user id must not contain surrogates"),
        (Columns.User, "a\x85", "user id must not contain control characters"),
        (Columns.Item, "zzz", "not a UUID"),
        (Columns.Item, 17, "film id must be a string, got int"),
        (Columns.EventId, "e\x00", "event id must not contain control characters"),
        (Columns.EventId, "", "event id must not be empty"),
        (Columns.Rating, "high", "rating 'high' is not a number"),
        (Columns.Rating, float("nan"), "is not a number in 1..10"),
        (Columns.Rating, 0.5, "is not a number in 1..10 (or 0)"),
        (Columns.Timestamp, 1.5, "not an integer number of unix seconds"),
    ],
)
def test_prepare_rating_rows_names_the_first_bad_row_by_its_label(column: str, value: object, reason: str) -> None:
    data: dict[str, list[object]] = {
        Columns.User: ["a", "b"],
        Columns.Item: [FILM, FILM],
        Columns.Rating: [5.0, 6.0],
        Columns.Timestamp: [1, 2],
        Columns.EventId: ["e1", "e2"],
    }
    data[column][1] = value
    frame = pd.DataFrame(data, index=[10, 20])

    with pytest.raises(InvalidEvent, match="row 20") as caught:
        prepare_rating_rows(frame)
    assert reason in str(caught.value)


def test_ratings_frame_has_the_documented_dtypes_even_when_empty() -> None:
    empty = ratings_frame([], [], [], [])
    assert list(empty.columns) == list(Columns.RATINGS)
    assert pd.api.types.is_string_dtype(empty[Columns.User])
    assert empty[Columns.Rating].dtype == np.float64
    assert empty[Columns.Timestamp].dtype == np.int64


def test_a_removal_is_a_rating_event_with_the_removed_score_on_every_path() -> None:
    removal = RatingEvent("e-9", "alice", FILM, RATING_REMOVED, 1_700_000_000)
    assert decoder.decode(encode_event(removal)).rating == RATING_REMOVED
    assert validate_event(removal) == removal
    assert decoder.decode(wire(rating=0)).rating == RATING_REMOVED
    rows = prepare_rating_rows(ratings_frame(["alice"], [FILM], [RATING_REMOVED], [5]))
    assert rows.rating.tolist() == [RATING_REMOVED]
