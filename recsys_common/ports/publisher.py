"""Where the Movies API sends a viewer's rating (Kafka in production)."""

from __future__ import annotations

import abc

from recsys_common.domain import RatingEvent


class PublishError(RuntimeError):
    """The event was not accepted; the caller must not report it as accepted."""


class RatingPublisher(abc.ABC):
    @abc.abstractmethod
    def publish(self, event: RatingEvent, timeout_s: float) -> None:
        """Return once the event is durably accepted; raise PublishError otherwise."""

    @abc.abstractmethod
    def check(self, timeout_s: float) -> None:
        """Raise PublishError when the publisher cannot currently accept events."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources."""
