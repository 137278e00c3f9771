"""ExamStore: the exam API's own state, beside the platform's stores.

What the engine's stores do not hold: each item's integer id and genres (the catalogue knows films
by UUID), what every user was shown (never shown twice) and what they interacted with (never
recommended), the number of interactions per item (live popularity) and when the last ``/cleanup``
happened. Two adapters: SQLite under the data directory (embedded) and Redis (production, its own
key prefix). The service keeps a copy in memory and writes through, so reads happen at start and
on a user's first request only.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


class ExamStoreUnavailable(RuntimeError):
    """The exam's store cannot be reached or written."""


@dataclass
class UserRecord:
    """What the store knows of one user (item ids)."""

    shown: set[int] = field(default_factory=set)
    interacted: set[int] = field(default_factory=set)


class ExamStore(abc.ABC):
    @abc.abstractmethod
    def items(self) -> dict[int, tuple[str, ...]]:
        """Every added item with its genres."""

    @abc.abstractmethod
    def put_items(self, items: Mapping[int, Sequence[str]]) -> None:
        """Add items, or replace the genres of items added before."""

    @abc.abstractmethod
    def user(self, user_id: int) -> UserRecord:
        """The user's shown and interacted items (empty for a user never seen)."""

    @abc.abstractmethod
    def add_shown(self, user_id: int, items: Sequence[int]) -> None:
        """Record items as shown to the user."""

    @abc.abstractmethod
    def add_interactions(self, user_id: int, items: Sequence[int]) -> None:
        """Record the user's interactions: the items join their interacted set, and each one counts
        once more towards the item's popularity."""

    @abc.abstractmethod
    def counts(self) -> dict[int, int]:
        """Interactions per item (items without any are left out)."""

    @abc.abstractmethod
    def cleared_at(self) -> float | None:
        """Unix time of the last ``clear``; None when the store was never cleared."""

    @abc.abstractmethod
    def clear(self, at: float) -> None:
        """Forget every item, user and count; record ``at`` as the time of the cleanup."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise ExamStoreUnavailable unless the store answers."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
