"""Readiness that never stalls request handling.

Orchestrators poll ``/health/ready`` often, and against a hung store (Redis stopped, packets
dropped) each question costs up to two socket timeouts. So the answer is cached for ``ttl_s``; when
it is stale one refresh at a time asks the store in a worker thread, and the event loop keeps
answering requests meanwhile (only the readiness requests wait for it). While the service's store
breaker is open the answer comes from the breaker at once and the store is not asked at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from recommendations_api.service import Readiness, RecommendationService

log = logging.getLogger(__name__)


class ReadinessCache:
    def __init__(
        self, service: RecommendationService, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._service = service
        self._ttl_s = ttl_s
        self._clock = clock
        self._answer: Readiness | None = None
        self._answered_at = float("-inf")
        self._refresh: asyncio.Future[Readiness] | None = None

    async def readiness(self) -> Readiness:
        """The breaker's answer while it is open, else the cached answer, else a fresh one (off the loop)."""
        down = self._service.down_reason()
        if down is not None:
            self._answer = None  # once the breaker closes again, ask afresh
            return Readiness(False, f"recommendation store unreachable: {down}")
        if self._answer is not None and self._clock() - self._answered_at < self._ttl_s:
            return self._answer
        if self._refresh is None:
            self._refresh = asyncio.ensure_future(asyncio.to_thread(self._service.readiness))
            self._refresh.add_done_callback(self._refreshed)
        return await asyncio.shield(self._refresh)  # a client that gives up does not cancel the refresh

    def _refreshed(self, refresh: asyncio.Future[Readiness]) -> None:
        self._refresh = None
        if refresh.cancelled():
            return
        error = refresh.exception()
        if error is not None:
            log.warning("readiness check failed: %r", error)
            return
        self._answer = refresh.result()
        self._answered_at = self._clock()
