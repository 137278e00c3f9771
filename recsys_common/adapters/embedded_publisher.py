"""Embedded RatingPublisher: writes the event straight into the SQLite rating store (no broker).

The event is accepted once its row is committed to the SQLite file, which is what the engine reads
in the embedded setup. Publishing an event id twice stores it once.
"""

from __future__ import annotations

from collections.abc import Sequence

from recsys_common.adapters.sqlite_ratings import SqliteRatingStore
from recsys_common.domain import RatingEvent
from recsys_common.events import RatingRows, validate_event
from recsys_common.ports.publisher import PublishError, RatingPublisher
from recsys_common.ports.ratings import RatingSourceError


class EmbeddedRatingPublisher(RatingPublisher):
    def __init__(self, store: SqliteRatingStore) -> None:
        self._store = store

    def publish(self, event: RatingEvent, timeout_s: float) -> None:
        """Append the event; raise InvalidEvent (a ValueError) for a bad event, PublishError when
        the file cannot be written. ``timeout_s`` bounds nothing more than SQLite's own lock wait."""
        try:
            self._store.append(RatingRows.from_events([validate_event(event)]))
        except RatingSourceError as exc:
            raise PublishError(f"rating not stored: {exc}") from exc

    def publish_many(self, events: Sequence[RatingEvent], timeout_s: float) -> None:
        """Append every event in one transaction: all of them are stored, or none (InvalidEvent for
        a bad one, PublishError when the file cannot be written)."""
        try:
            self._store.append(RatingRows.from_events([validate_event(event) for event in events]))
        except RatingSourceError as exc:
            raise PublishError(f"ratings not stored: {exc}") from exc

    def check(self, timeout_s: float) -> None:
        try:
            self._store.ping()
        except RatingSourceError as exc:
            raise PublishError(f"rating store unavailable: {exc}") from exc
