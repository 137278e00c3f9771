"""Where the Movies API and the course-exam API send viewers' ratings (Kafka in production)."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from recsys_common.domain import RatingEvent


class PublishError(RuntimeError):
    """The event was not accepted; the caller must not report it as accepted."""


class RatingPublisher(abc.ABC):
    @abc.abstractmethod
    def publish(self, event: RatingEvent, timeout_s: float) -> None:
        """Return once the event is durably accepted; raise PublishError otherwise."""

    def publish_many(self, events: Sequence[RatingEvent], timeout_s: float) -> None:
        """Return once every event is durably accepted; raise PublishError otherwise (some of them
        may then have been accepted: publishing them again is harmless, rating stores keep one row
        per event id). Adapters override it to accept a batch in one step."""
        for event in events:
            self.publish(event, timeout_s)

    @abc.abstractmethod
    def check(self, timeout_s: float) -> None:
        """Raise PublishError when the publisher cannot currently accept events."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""
