"""A circuit breaker toward a dependency, so a hung one costs one timeout, not one per request.

Closed, calls go through. After ``failures`` consecutive failures it opens: callers skip the
dependency (and answer their fallback at once) for ``cool_down_s``. Then it is half-open: one call,
the probe, goes through while the others still skip; the probe's success closes the breaker, its
failure opens it for another cool-down. Used from one event loop: no locking.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failures: int,
        cool_down_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[CircuitState], None] = lambda state: None,
    ) -> None:
        if failures < 1:
            raise ValueError("a breaker opens after at least one failure")
        self._threshold = failures
        self._cool_down_s = cool_down_s
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = float("-inf")
        self._probing = False

    @property
    def state(self) -> CircuitState:
        return self._state

    def allow(self) -> bool:
        """Whether to call the dependency now; every True must be followed by ``succeeded``,
        ``failed`` or ``abandoned``."""
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.OPEN:
            if self._clock() - self._opened_at < self._cool_down_s:
                return False
            self._set(CircuitState.HALF_OPEN)
        if self._probing:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        """The dependency answered (even with a client error: it is up)."""
        self._failures = 0
        self._probing = False
        if self._state is not CircuitState.CLOSED:
            self._set(CircuitState.CLOSED)

    def failed(self) -> None:
        """The dependency timed out, refused the connection, failed (5xx) or answered nonsense."""
        self._probing = False
        self._failures += 1
        if self._state is CircuitState.HALF_OPEN or self._failures >= self._threshold:
            self._opened_at = self._clock()
            if self._state is not CircuitState.OPEN:
                self._set(CircuitState.OPEN)

    def abandoned(self) -> None:
        """The call was cancelled before it had an outcome (the client went away): let another probe."""
        self._probing = False

    def _set(self, state: CircuitState) -> None:
        self._state = state
        self._on_change(state)
