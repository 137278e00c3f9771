"""The rating event's schema: its JSON wire form on Kafka and its column form in rating stores.

Shared by the Kafka publisher (``encode_event``), the UGC loader (``EventDecoder``) and the rating
stores (``validate_event``, ``prepare_rating_rows``, ``as_rating_rows``), so all of them accept and reject the same
things; the identifier rule they apply is ``recsys_common.ids``'.

Wire form: one UTF-8 JSON object per Kafka message, keyed by ``user_id``::

    {"event_id": "<event id>", "user_id": "<user id>", "film_id": "<UUID>",
     "rating": <number 1..10, or 0 (RATING_REMOVED) to remove it>, "timestamp": <integer unix seconds 0..2**32-1>}

The schema is the msgspec Struct ``WireEvent``: msgspec parses the JSON and checks the types and
ranges in one pass, strictly (a number in a string, a boolean or a fraction of a second is refused),
then ``WireEvent.__post_init__`` applies the identifier rule and canonicalises the film id. Unknown
keys are ignored, so producers may add fields without breaking the loader. When a key repeats, its
last value counts, and every one of its values must have the field's type and range. A message
that is not UTF-8 text (including JSON escapes of a lone surrogate, wherever they appear) is
refused. ``InvalidEvent`` names the reason.

``EventDecoder`` refuses a value longer than its ``max_bytes`` or nested deeper than its
``max_depth`` before anything parses it, so no message can make decoding use unbounded time,
memory or stack, and it raises nothing but InvalidEvent for any byte string. A decoded event's
strings are UTF-8 text and its numbers fit the ClickHouse columns, so a store can always write it.

The dead-letter topic (``RATINGS_DLQ_TOPIC``) carries the original key and bytes of an invalid
message with the ``DLQ_*`` headers below (truncated to what a Kafka message can hold).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
import numpy as np
import numpy.typing as npt
import pandas as pd

from recsys_common.columns import Columns
from recsys_common.domain import RATING_MAX, RATING_MIN, RATING_REMOVED, RatingEvent
from recsys_common.ids import parse_film_id, validate_event_id, validate_user_id

RATINGS_TOPIC = "ratings"
RATINGS_DLQ_TOPIC = "ratings.dlq"

#: Headers of a dead-lettered message: why it was rejected and where it came from.
DLQ_REASON_HEADER = "dlq.reason"
DLQ_SOURCE_TOPIC_HEADER = "dlq.source.topic"
DLQ_SOURCE_PARTITION_HEADER = "dlq.source.partition"
DLQ_SOURCE_OFFSET_HEADER = "dlq.source.offset"
#: Present when the dead letter carries only the first bytes of the key / value: the original size.
DLQ_KEY_BYTES_HEADER = "dlq.original.key.bytes"
DLQ_VALUE_BYTES_HEADER = "dlq.original.value.bytes"

#: Namespace of derived event ids (``event_id_for``). Never change it: ids are stored everywhere.
EVENT_NAMESPACE = uuid.UUID("0b7d3c52-4f7e-5a8e-9a61-2c4e8f1d6b93")
#: Event times must fit ClickHouse ``DateTime`` (unsigned 32-bit seconds).
TIMESTAMP_MIN = 0
TIMESTAMP_MAX = 2**32 - 1
#: Decoder limits. A valid event takes a few hundred bytes and one level of nesting; the rest is
#: room for fields producers may add.
DEFAULT_MAX_EVENT_BYTES = 64 * 1024
DEFAULT_MAX_EVENT_DEPTH = 32

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_BYTES = 16
_UUID_HEX_SPANS = ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))  # hex digits of each dash group
_UUID_TEXT_LEN = 36
_UUID_VERSION_BYTE, _UUID_VARIANT_BYTE = 6, 8
_UUID5_VERSION_BITS, _UUID_RFC4122_VARIANT_BITS = 0x50, 0x80
_LOW_NIBBLE, _LOW_SIX_BITS, _NIBBLE_BITS = 0x0F, 0x3F, 4
#: A JSON string (escapes included), for measuring nesting without the brackets inside strings.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENERS = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSERS = np.frombuffer(b"]}", dtype=np.uint8)


class InvalidEvent(ValueError):
    """A message or row that does not follow the rating event schema; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ----- ids -------------------------------------------------------------------------------------


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

RATING_RULE = f"rating must be within {RATING_MIN:g}..{RATING_MAX:g}, or {RATING_REMOVED:g} to remove one"


def is_rating(value: float) -> bool:
    """Whether ``value`` is a rating an event may carry: on the scale, or ``RATING_REMOVED``."""
    return value == RATING_REMOVED or RATING_MIN <= value <= RATING_MAX


def without_removed(latest: pd.DataFrame) -> pd.DataFrame:
    """The latest ratings without the pairs whose latest event removed the rating (``RATING_REMOVED``)."""
    removed = latest[Columns.Rating].to_numpy() == RATING_REMOVED
    return latest[~removed].reset_index(drop=True) if removed.any() else latest


class WireEvent(msgspec.Struct, gc=False):
    """One valid rating event in its wire form (film id canonical); ``EventDecoder`` makes them."""

    event_id: str
    user_id: str
    film_id: str
    rating: Annotated[float, msgspec.Meta(ge=RATING_REMOVED, le=RATING_MAX)]
    timestamp: Annotated[int, msgspec.Meta(ge=TIMESTAMP_MIN, le=TIMESTAMP_MAX)]

    def __post_init__(self) -> None:
        # msgspec turns these ValueErrors into a ValidationError carrying their message.
        if not is_rating(self.rating):
            raise ValueError(RATING_RULE)
        validate_event_id(self.event_id)
        validate_user_id(self.user_id)
        self.film_id = parse_film_id(self.film_id)


_encode_json = msgspec.json.Encoder().encode


def nesting_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in a JSON text; brackets inside strings do not count.

    Never less than the depth a JSON parser would reach (an unterminated string's brackets count).
    """
    codes = np.frombuffer(_JSON_STRING.sub(b"", raw), dtype=np.uint8)
    steps = np.isin(codes, _OPENERS).astype(np.int64) - np.isin(codes, _CLOSERS)
    return int(np.cumsum(steps).max(initial=0))


class EventDecoder:
    """Message value -> ``WireEvent``; anything else raises InvalidEvent naming what is wrong.

    ``max_bytes`` and ``max_depth`` are checked before parsing. The loader's hot path.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_EVENT_BYTES, max_depth: int = DEFAULT_MAX_EVENT_DEPTH) -> None:
        if max_bytes < 1 or max_depth < 1:
            raise ValueError(f"decoder limits must be >= 1, got max_bytes={max_bytes}, max_depth={max_depth}")
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self._parse = msgspec.json.Decoder(WireEvent).decode

    def decode(self, raw: bytes | None) -> WireEvent:
        if raw is None:
            raise InvalidEvent("message has no value")
        if len(raw) > self.max_bytes:
            raise InvalidEvent(f"value is {len(raw)} bytes, more than the limit of {self.max_bytes}")
        # Every bracket counted is a cheap upper bound of the depth; measure only above the limit.
        if raw.count(b"{") + raw.count(b"[") > self.max_depth and (depth := nesting_depth(raw)) > self.max_depth:
            raise InvalidEvent(f"value nests {depth} levels deep, more than the limit of {self.max_depth}")
        if not raw.isascii():
            # msgspec checks only the strings it keeps; the whole message must be text.
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidEvent(f"value is not UTF-8: {exc.reason} at byte {exc.start}") from exc
        try:
            return self._parse(raw)
        except msgspec.ValidationError as exc:
            raise InvalidEvent(str(exc)) from exc
        except msgspec.DecodeError as exc:
            raise InvalidEvent(f"value is not JSON: {exc}") from exc


def _to_wire(event: RatingEvent) -> WireEvent:
    try:
        return msgspec.convert(event, WireEvent, from_attributes=True)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(str(exc)) from exc


def validate_event(event: RatingEvent) -> RatingEvent:
    """Return the event with its film id in canonical form, or raise InvalidEvent."""
    return RatingEvent(*msgspec.structs.astuple(_to_wire(event)))


def encode_event(event: RatingEvent) -> bytes:
    """The wire form of a valid event; raise InvalidEvent when the event breaks the schema."""
    return _encode_json(_to_wire(event))


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
    def from_events(events: Sequence[WireEvent] | Sequence[RatingEvent]) -> RatingRows:
        """Rows of valid events (``EventDecoder`` or ``validate_event`` results)."""
        count = len(events)
        return RatingRows(
            np.array([event.event_id for event in events], dtype=object),
            np.array([event.user_id for event in events], dtype=object),
            np.array([event.film_id for event in events], dtype=object),
            np.fromiter((event.rating for event in events), dtype=np.float64, count=count),
            np.fromiter((event.timestamp for event in events), dtype=np.int64, count=count),
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


def _text_column(frame: pd.DataFrame, column: str, check: Callable[[object], str]) -> npt.NDArray[Any]:
    """The column as an object array of valid id strings; each distinct value is checked once.

    ``check`` returns a value's canonical form or raises ValueError naming the problem.
    """
    values = frame[column].to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        raise InvalidEvent(f"{_row(frame, int(np.argmax(missing)))}: {column} is missing")
    replacements: dict[str, str] = {}
    for value in pd.unique(values).tolist():
        try:
            fixed = check(value)
        except ValueError as exc:
            raise _bad_row(frame, values, value, str(exc)) from exc
        if fixed != value:
            replacements[value] = fixed
    if replacements:
        values = pd.Series(values).replace(replacements).to_numpy(dtype=object)
    return values


def prepare_rating_rows(frame: pd.DataFrame) -> RatingRows:
    """Validate a ratings frame (``Columns.RATINGS`` + optional ``Columns.EventId``) column-wise.

    Film ids are canonicalised; a missing event id column is derived with ``event_ids_for`` so
    appending the same seed twice is idempotent. Raises InvalidEvent naming the first bad row.
    """
    missing = [name for name in Columns.RATINGS if name not in frame.columns]
    if missing:
        raise InvalidEvent(f"ratings frame lacks column(s): {', '.join(missing)}")
    if frame.empty:
        return RatingRows.from_events([])
    user_array = _text_column(frame, Columns.User, validate_user_id)
    film_array = _text_column(frame, Columns.Item, parse_film_id)

    ratings = pd.to_numeric(frame[Columns.Rating], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    on_scale = np.isfinite(ratings) & (ratings >= RATING_MIN) & (ratings <= RATING_MAX)
    out_of_scale = ~(on_scale | (ratings == RATING_REMOVED))
    _first_bad(
        frame,
        out_of_scale,
        Columns.Rating,
        f"is not a number in {RATING_MIN:g}..{RATING_MAX:g} (or {RATING_REMOVED:g})",
    )

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
        event_ids = _text_column(frame, Columns.EventId, validate_event_id)
    else:
        event_ids = np.array(event_ids_for(user_array, film_array, timestamps), dtype=object)
    return RatingRows(event_ids, user_array, film_array, ratings, timestamps)


def as_rating_rows(ratings: pd.DataFrame | RatingRows) -> RatingRows:
    """What ``RatingStore.append`` writes: rows as they are, a frame validated by ``prepare_rating_rows``."""
    return ratings if isinstance(ratings, RatingRows) else prepare_rating_rows(ratings)


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
