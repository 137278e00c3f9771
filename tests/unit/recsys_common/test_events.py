"""The rating event schema: wire encode/decode, derived event ids, frame validation."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pandas as pd
import pytest

from recsys_common import events
from recsys_common.columns import Columns
from recsys_common.domain import RatingEvent
from recsys_common.events import (
    EVENT_NAMESPACE,
    TIMESTAMP_MAX,
    InvalidEvent,
    decode_event,
    decode_event_fields,
    encode_event,
    event_id_for,
    event_ids_for,
    new_event_id,
    prepare_rating_rows,
    ratings_frame,
)
from recsys_common.ids import film_id_for

FILM = film_id_for("events:1")
GOOD = {"event_id": "e-1", "user_id": "alice", "film_id": FILM, "rating": 7.5, "timestamp": 1_700_000_000}


def wire(**changes: object) -> bytes:
    document = {**GOOD, **changes}
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


def test_encode_then_decode_round_trips() -> None:
    event = RatingEvent(new_event_id(), "alice", FILM, 7.5, 1_700_000_000)
    assert decode_event(encode_event(event)) == event


def test_decode_canonicalises_film_ids_and_ignores_unknown_keys() -> None:
    event = decode_event(wire(film_id=FILM.upper(), source="web"))
    assert event.film_id == FILM
    assert decode_event_fields(wire(rating=8)) == ("e-1", "alice", FILM, 8.0, 1_700_000_000)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "no value"),
        (b"", "not JSON"),
        (b"{nope", "not JSON"),
        (b'{"user_id": "\xff"}', "not UTF-8"),
        (b"[1, 2]", "JSON object, got list"),
        (wire(rating=...), "missing field(s): rating"),
        (wire(user_id=..., timestamp=...), "missing field(s): user_id, timestamp"),
        (wire(rating="7"), "rating must be a number, got str"),
        (wire(rating=True), "rating must be a number, got bool"),
        (wire(rating=10.5), "outside the scale"),
        (wire(rating=0), "outside the scale"),
        (wire(timestamp=1.5), "timestamp must be an integer"),
        (wire(timestamp=-1), "outside 0.."),
        (wire(timestamp=TIMESTAMP_MAX + 1), "outside 0.."),
        (wire(event_id=""), "event_id must not be empty"),
        (wire(event_id=7), "event_id must be a string, got int"),
        (wire(event_id="x" * 200), "at most 128"),
        (wire(user_id="a\nb"), "control characters"),
        (wire(user_id=None), "user_id must be a string, got NoneType"),
        (wire(film_id="42"), "not a UUID"),
    ],
)
def test_decode_rejects_bad_messages_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_event_fields(raw)
    assert reason in caught.value.reason


def test_encode_refuses_an_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="outside the scale"):
        encode_event(RatingEvent("e", "alice", FILM, 0.0, 0))


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
        (Columns.User, 17, "user_id must be a string, got int"),
        (Columns.Item, "zzz", "not a UUID"),
        (Columns.Rating, "high", "rating 'high' is not a number"),
        (Columns.Rating, float("nan"), "is not a number in 1..10"),
        (Columns.Timestamp, 1.5, "not an integer number of unix seconds"),
    ],
)
def test_prepare_rating_rows_names_the_first_bad_row_by_its_label(column: str, value: object, reason: str) -> None:
    data: dict[str, list[object]] = {
        Columns.User: ["a", "b"],
        Columns.Item: [FILM, FILM],
        Columns.Rating: [5.0, 6.0],
        Columns.Timestamp: [1, 2],
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


BASE: tuple[object, ...] = ("e-1", "alice", FILM, 7.5, 1_700_000_000)
VARIANTS: dict[int, list[object]] = {
    0: ["", "x" * 128, "x" * 129, "a\x00b", 7, None],
    1: ["", "u" * 128, "u" * 129, "tab\tbed", 3.0, None],
    2: [FILM.upper(), "{" + FILM + "}", FILM.replace("-", ""), "42", "", None],
    3: [1, 10, 0.99, 10.01, float("nan"), float("inf"), True, "5", None],
    4: [0, TIMESTAMP_MAX, -1, TIMESTAMP_MAX + 1, 1.0, True, "1", None],
}


@pytest.mark.parametrize(
    "fields",
    [BASE, *[(*BASE[:i], value, *BASE[i + 1 :]) for i, values in VARIANTS.items() for value in values]],
)
def test_the_fast_path_agrees_with_the_field_by_field_checks(fields: tuple[object, ...]) -> None:
    outcomes: list[tuple[str, object]] = []
    for check in (events._check_fields, events._check_fields_strict):
        try:
            outcomes.append(("accepted", check(*fields)))
        except InvalidEvent as exc:
            outcomes.append(("rejected", exc.reason))
    assert outcomes[0] == outcomes[1]


def test_whitespace_around_a_document_is_accepted_but_trailing_data_is_not() -> None:
    assert decode_event(b"  " + wire() + b"\n").event_id == "e-1"
    with pytest.raises(InvalidEvent, match="Extra data"):
        decode_event_fields(wire() + b' {"x": 1}')
