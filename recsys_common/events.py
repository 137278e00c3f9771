"""The rating event's schema: its JSON wire form on Kafka and its column form in rating stores.

Shared by the Kafka publisher (``encode_event``), the UGC loader (``decode_event_fields``) and the
rating stores (``prepare_rating_rows``), so all three accept and reject the same things.

Wire form: one UTF-8 JSON object per Kafka message, keyed by ``user_id``::

    {"event_id": "<1..128 chars>", "user_id": "<1..128 chars>", "film_id": "<UUID>",
     "rating": <number 1..10>, "timestamp": <int unix seconds>}

Unknown keys are ignored, so producers may add fields without breaking the loader; a missing or
ill-typed key, a film id that is not a UUID or a rating off the platform scale makes the message
invalid (``InvalidEvent`` names the reason). Film ids are stored in canonical lowercase form.

The dead-letter topic (``RATINGS_DLQ_TOPIC``) carries the original key and bytes of an invalid
message with the ``DLQ_*`` headers below.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.scanner import make_scanner
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN, RatingEvent, RatingOutOfRange, check_rating
from recsys_common.ids import USER_ID_MAX_LEN, parse_film_id, validate_user_id

RATINGS_TOPIC = "ratings"
RATINGS_DLQ_TOPIC = "ratings.dlq"

#: Headers of a dead-lettered message: why it was rejected and where it came from.
DLQ_REASON_HEADER = "dlq.reason"
DLQ_SOURCE_TOPIC_HEADER = "dlq.source.topic"
DLQ_SOURCE_PARTITION_HEADER = "dlq.source.partition"
DLQ_SOURCE_OFFSET_HEADER = "dlq.source.offset"

#: Namespace of derived event ids (``event_id_for``). Never change it: ids are stored everywhere.
EVENT_NAMESPACE = uuid.UUID("0b7d3c52-4f7e-5a8e-9a61-2c4e8f1d6b93")
EVENT_ID_MAX_LEN = 128
#: Event times must fit ClickHouse ``DateTime`` (unsigned 32-bit seconds).
TIMESTAMP_MIN = 0
TIMESTAMP_MAX = 2**32 - 1

_FIELDS = (Columns.EventId, Columns.User, Columns.Item, Columns.Rating, Columns.Timestamp)
_EVENT_ID, _USER, _FILM, _RATING, _TIMESTAMP = _FIELDS
#: One decoder for every message: skips ``json.loads``' per-call setup and encoding detection.
_JSON = json.JSONDecoder()
_parse_json = _JSON.decode
# typeshed declares make_scanner's argument as the scanner class; at runtime it takes the decoder.
_scan_json: Callable[[str, int], tuple[Any, int]] = make_scanner(_JSON)  # type: ignore[arg-type]
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_control_character = _CONTROL.search
_canonical_uuid = _CANONICAL_UUID.fullmatch
_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_BYTES = 16
_UUID_HEX_SPANS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))  # hex digits of each dash group
_UUID_TEXT_LEN = 36
_UUID_VERSION_BYTE, _UUID_VARIANT_BYTE = 6, 8
_UUID5_VERSION_BITS, _UUID_RFC4122_VARIANT_BITS = 0x50, 0x80
_LOW_NIBBLE, _LOW_SIX_BITS, _NIBBLE_BITS = 0x0F, 0x3F, 4

EventFields = tuple[str, str, str, float, int]
"""(event_id, user_id, film_id, rating, timestamp) of one valid event."""


class InvalidEvent(ValueError):
    """A message or row that does not follow the rating event schema; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ----- ids -------------------------------------------------------------------------------------


def new_event_id() -> str:
    """A fresh random event id (what the Movies API stamps on a viewer's rating)."""
    return str(uuid.uuid4())


def event_id_for(user_id: str, film_id: str, timestamp: int) -> str:
    """Deterministic event id of a rating that came without one (e.g. a seed set row)."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{user_id}|{film_id}|{int(timestamp)}"))


def event_ids_for(
    user_ids: Sequence[str] | npt.NDArray[Any],
    film_ids: Sequence[str] | npt.NDArray[Any],
    timestamps: Sequence[int] | npt.NDArray[Any],
) -> list[str]:
    """``event_id_for`` of many rows at once (same result, several times faster)."""
    n = len(user_ids)
    if n == 0:
        return []
    prefix = EVENT_NAMESPACE.bytes
    sha1 = hashlib.sha1
    digests = b"".join(
        [
            sha1(prefix + f"{u}|{f}|{t}".encode(), usedforsecurity=False).digest()[:_UUID_BYTES]
            for u, f, t in zip(user_ids, film_ids, np.asarray(timestamps, dtype=np.int64).tolist(), strict=True)
        ]
    )
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(n, _UUID_BYTES).copy()
    raw[:, _UUID_VERSION_BYTE] = (raw[:, _UUID_VERSION_BYTE] & _LOW_NIBBLE) | _UUID5_VERSION_BITS
    raw[:, _UUID_VARIANT_BYTE] = (raw[:, _UUID_VARIANT_BYTE] & _LOW_SIX_BITS) | _UUID_RFC4122_VARIANT_BITS
    digits = np.empty((n, 2 * _UUID_BYTES), dtype=np.uint8)
    digits[:, 0::2] = _HEX_DIGITS[raw >> _NIBBLE_BITS]
    digits[:, 1::2] = _HEX_DIGITS[raw & _LOW_NIBBLE]
    text = np.full((n, _UUID_TEXT_LEN), ord("-"), dtype=np.uint8)
    for group, (start, stop) in enumerate(_UUID_HEX_SPANS):
        text[:, start + group : stop + group] = digits[:, start:stop]
    ids: list[str] = text.view(f"S{_UUID_TEXT_LEN}").ravel().astype(f"U{_UUID_TEXT_LEN}").tolist()
    return ids


# ----- wire form -------------------------------------------------------------------------------


def _check_id_text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidEvent(f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidEvent(f"{name} must not be empty")
    if len(value) > EVENT_ID_MAX_LEN:
        raise InvalidEvent(f"{name} must be at most {EVENT_ID_MAX_LEN} characters, got {len(value)}")
    if _CONTROL.search(value):
        raise InvalidEvent(f"{name} must not contain control characters")
    return value


def _check_fields(event_id: object, user_id: object, film_id: object, rating: object, timestamp: object) -> EventFields:
    """Validate one event's fields; the fast path accepts a strict subset of ``_check_fields_strict``."""
    if (
        type(event_id) is str
        and 0 < len(event_id) <= EVENT_ID_MAX_LEN
        and type(user_id) is str
        and 0 < len(user_id) <= USER_ID_MAX_LEN
        and type(film_id) is str
        and _canonical_uuid(film_id)
        and (type(rating) is float or type(rating) is int)
        and RATING_MIN <= rating <= RATING_MAX  # also false for NaN
        and type(timestamp) is int
        and TIMESTAMP_MIN <= timestamp <= TIMESTAMP_MAX
        and not _control_character(event_id)
        and not _control_character(user_id)
    ):
        return event_id, user_id, film_id, float(rating), timestamp
    return _check_fields_strict(event_id, user_id, film_id, rating, timestamp)


def _check_fields_strict(
    event_id: object, user_id: object, film_id: object, rating: object, timestamp: object
) -> EventFields:
    """Validate field by field, canonicalising film ids; the error names the first bad field."""
    event_id = _check_id_text(Columns.EventId, event_id)
    if not isinstance(user_id, str):
        raise InvalidEvent(f"{Columns.User} must be a string, got {type(user_id).__name__}")
    try:
        validate_user_id(user_id)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from exc
    if not isinstance(film_id, str):
        raise InvalidEvent(f"{Columns.Item} must be a string, got {type(film_id).__name__}")
    if not _CANONICAL_UUID.fullmatch(film_id):
        try:
            film_id = parse_film_id(film_id)
        except ValueError as exc:
            raise InvalidEvent(str(exc)) from exc
    if isinstance(rating, bool) or not isinstance(rating, int | float):
        raise InvalidEvent(f"{Columns.Rating} must be a number, got {type(rating).__name__}")
    try:
        rating = check_rating(rating)
    except RatingOutOfRange as exc:
        raise InvalidEvent(str(exc)) from exc
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise InvalidEvent(f"{Columns.Timestamp} must be an integer (unix seconds), got {type(timestamp).__name__}")
    if not TIMESTAMP_MIN <= timestamp <= TIMESTAMP_MAX:
        raise InvalidEvent(f"{Columns.Timestamp} {timestamp} is outside {TIMESTAMP_MIN}..{TIMESTAMP_MAX}")
    return event_id, user_id, film_id, rating, timestamp


def validate_event(event: RatingEvent) -> RatingEvent:
    """Return the event with its film id in canonical form, or raise InvalidEvent."""
    fields = _check_fields(event.event_id, event.user_id, event.film_id, event.rating, event.timestamp)
    return RatingEvent(*fields)


def encode_event(event: RatingEvent) -> bytes:
    """The wire form of a valid event; raise InvalidEvent when the event breaks the schema."""
    fields = _check_fields(event.event_id, event.user_id, event.film_id, event.rating, event.timestamp)
    return json.dumps(dict(zip(_FIELDS, fields, strict=True)), separators=(",", ":")).encode()


def decode_event_fields(raw: bytes | None) -> EventFields:
    """Parse and validate one message value; raise InvalidEvent naming what is wrong.

    The loader's hot path: returns a plain tuple rather than a RatingEvent.
    """
    if raw is None:
        raise InvalidEvent("message has no value")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"value is not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        # Fast path: the scanner alone, for a document without surrounding whitespace.
        document: Any
        document, end = _scan_json(text, 0)
        if end != len(text):
            raise StopIteration(end)
    except (StopIteration, ValueError):
        try:
            document = _parse_json(text)  # accepts what the scanner does not, or says why not
        except ValueError as exc:
            raise InvalidEvent(f"value is not JSON: {exc}") from exc
    if type(document) is not dict:
        raise InvalidEvent(f"value must be a JSON object, got {type(document).__name__}")
    try:
        return _check_fields(
            document[_EVENT_ID], document[_USER], document[_FILM], document[_RATING], document[_TIMESTAMP]
        )
    except KeyError as exc:
        missing = [name for name in _FIELDS if name not in document]
        raise InvalidEvent(f"missing field(s): {', '.join(missing)}") from exc


def decode_event(raw: bytes | None) -> RatingEvent:
    """Parse and validate one message value into a RatingEvent; raise InvalidEvent otherwise."""
    return RatingEvent(*decode_event_fields(raw))


# ----- column form -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingRows:
    """Validated rating rows as aligned arrays, ready for a store's bulk insert."""

    event_id: npt.NDArray[np.object_]
    user_id: npt.NDArray[np.object_]
    film_id: npt.NDArray[np.object_]
    rating: npt.NDArray[np.float64]
    timestamp: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.event_id)

    @staticmethod
    def from_fields(events: Sequence[EventFields]) -> RatingRows:
        """Rows of already validated events (``decode_event_fields`` results)."""
        if not events:
            empty_text = np.empty(0, dtype=object)
            return RatingRows(empty_text, empty_text, empty_text, np.empty(0, np.float64), np.empty(0, np.int64))
        event_ids, users, films, ratings, timestamps = zip(*events, strict=True)
        return RatingRows(
            np.array(event_ids, dtype=object),
            np.array(users, dtype=object),
            np.array(films, dtype=object),
            np.array(ratings, dtype=np.float64),
            np.array(timestamps, dtype=np.int64),
        )


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, so messages read ``20``, not ``np.int64(20)``."""
    return value.item() if isinstance(value, np.generic) else value


def _row(frame: pd.DataFrame, position: int) -> str:
    return f"ratings frame row {_plain(frame.index[position])!r}"


def _first_bad(frame: pd.DataFrame, bad: npt.NDArray[np.bool_] | pd.Series, column: str, problem: str) -> None:
    mask = np.asarray(bad, dtype=bool)
    if mask.any():
        position = int(np.argmax(mask))
        value = _plain(frame[column].iloc[position])
        count = int(mask.sum())
        raise InvalidEvent(f"{_row(frame, position)}: {column} {value!r} {problem} ({count} bad row(s) in all)")


def _bad_row(frame: pd.DataFrame, values: npt.NDArray[Any], bad_value: object, reason: str) -> InvalidEvent:
    position = int(np.flatnonzero(pd.Series(values).isin([bad_value]).to_numpy())[0])
    return InvalidEvent(f"{_row(frame, position)}: {reason}")


def _text_column(frame: pd.DataFrame, column: str, canonical: Callable[[str], str] | None = None) -> npt.NDArray[Any]:
    """The column as an object array of valid id strings; each distinct value is checked once.

    ``canonical`` returns a value's canonical form or raises ValueError naming the problem.
    """
    values = frame[column].to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        raise InvalidEvent(f"{_row(frame, int(np.argmax(missing)))}: {column} is missing")
    replacements: dict[str, str] = {}
    for value in pd.unique(values).tolist():
        try:
            text = _check_id_text(column, value)
            if canonical is not None:
                fixed = canonical(text)
                if fixed != text:
                    replacements[text] = fixed
        except (InvalidEvent, ValueError) as exc:
            raise _bad_row(frame, values, value, str(exc)) from exc
    if replacements:
        values = pd.Series(values).replace(replacements).to_numpy(dtype=object)
    return values


def _canonical_film_id(value: str) -> str:
    return value if _CANONICAL_UUID.fullmatch(value) else parse_film_id(value)


def prepare_rating_rows(frame: pd.DataFrame) -> RatingRows:
    """Validate a ratings frame (``Columns.RATINGS`` + optional ``Columns.EventId``) column-wise.

    Film ids are canonicalised; a missing event id column is derived with ``event_ids_for`` so
    appending the same seed twice is idempotent. Raises InvalidEvent naming the first bad row.
    """
    missing = [name for name in Columns.RATINGS if name not in frame.columns]
    if missing:
        raise InvalidEvent(f"ratings frame lacks column(s): {', '.join(missing)}")
    if frame.empty:
        return RatingRows.from_fields([])
    user_array = _text_column(frame, Columns.User, validate_user_id)
    film_array = _text_column(frame, Columns.Item, _canonical_film_id)

    ratings = pd.to_numeric(frame[Columns.Rating], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    out_of_scale = ~(np.isfinite(ratings) & (ratings >= RATING_MIN) & (ratings <= RATING_MAX))
    _first_bad(frame, out_of_scale, Columns.Rating, f"is not a number in {RATING_MIN:g}..{RATING_MAX:g}")

    raw_times = pd.to_numeric(frame[Columns.Timestamp], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad_time = ~(np.isfinite(raw_times) & (raw_times == np.floor(raw_times)))
    _first_bad(frame, bad_time, Columns.Timestamp, "is not an integer number of unix seconds")
    _first_bad(
        frame,
        (raw_times < TIMESTAMP_MIN) | (raw_times > TIMESTAMP_MAX),
        Columns.Timestamp,
        f"is outside {TIMESTAMP_MIN}..{TIMESTAMP_MAX}",
    )
    timestamps = raw_times.astype(np.int64)

    if Columns.EventId in frame.columns:
        event_ids = _text_column(frame, Columns.EventId)
    else:
        event_ids = np.array(event_ids_for(user_array, film_array, timestamps), dtype=object)
    return RatingRows(event_ids, user_array, film_array, ratings, timestamps)


def ratings_frame(
    user_ids: Sequence[str] | npt.NDArray[Any],
    film_ids: Sequence[str] | npt.NDArray[Any],
    ratings: Sequence[float] | npt.NDArray[Any],
    timestamps: Sequence[int] | npt.NDArray[Any],
) -> pd.DataFrame:
    """A frame with ``Columns.RATINGS`` and their documented dtypes (str, str, float64, int64)."""
    return pd.DataFrame(
        {
            Columns.User: pd.array(np.asarray(user_ids, dtype=object), dtype="str"),
            Columns.Item: pd.array(np.asarray(film_ids, dtype=object), dtype="str"),
            Columns.Rating: np.asarray(ratings, dtype=np.float64),
            Columns.Timestamp: np.asarray(timestamps, dtype=np.int64),
        },
        columns=list(Columns.RATINGS),
    )
