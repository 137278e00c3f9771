"""Runs engine cycles on a cron expression or an interval (APScheduler)."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from recommender_engine.cycle import CycleError, CycleResult

log = logging.getLogger(__name__)


def make_trigger(cron: str | None, interval_seconds: int) -> BaseTrigger:
    """A cron trigger (5 fields, UTC) when ``cron`` is set, else an interval trigger."""
    if cron:
        try:
            return CronTrigger.from_crontab(cron, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"bad cron expression {cron!r}: {exc}") from exc
    if interval_seconds <= 0:
        raise ValueError(f"schedule interval must be positive, got {interval_seconds}")
    return IntervalTrigger(seconds=interval_seconds, timezone="UTC")


def run_scheduled(
    cycle: Callable[[], CycleResult], trigger: BaseTrigger, max_cycles: int | None = None, run_now: bool = True
) -> int:
    """Block running ``cycle`` on ``trigger`` until interrupted or ``max_cycles`` ran; return cycles run.

    A failed cycle is logged and the schedule goes on (the previous version keeps serving).
    """
    scheduler = BlockingScheduler(timezone="UTC")
    count = 0

    def job() -> None:
        nonlocal count
        try:
            result = cycle()
            log.info("cycle %s: %s %s", count + 1, result.status, result.version or "")
        except CycleError as exc:
            log.error("cycle %s failed: %s", count + 1, exc)
        count += 1
        if max_cycles is not None and count >= max_cycles:
            scheduler.shutdown(wait=False)

    scheduler.add_job(job, trigger, id="engine-cycle", max_instances=1, coalesce=True)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (docker stop) ends the loop like Ctrl-C: a running cycle finishes, no new one starts.
        signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    if run_now:
        scheduler.add_job(job, id="engine-cycle-now")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):  # Ctrl-C ends the loop like SIGTERM
        scheduler.start()
    log.info("scheduler stopped after %d cycle(s)", count)
    return count
