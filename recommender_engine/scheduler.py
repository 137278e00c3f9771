"""Runs engine cycles on a cron expression or an interval (APScheduler), and optionally re-tuning.

One job at a time: a tuning run and a cycle never run together (they share one lock), so a cycle
that comes due during a tuning waits for it, and the cycle after a tuning trains with its winner.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from recommender_engine.cycle import CycleError, CycleResult

log = logging.getLogger(__name__)


#: Day names in crontab's numbering (0 and 7 are Sunday).
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS = 5
_DAYS_IN_WEEK = 7


def _cron_days(field: str) -> set[int]:
    """The crontab days (0 = Sunday) a day-of-week field names: ``*``, numbers 0-7 or names, ranges,
    lists and ``/step``."""

    def day(token: str) -> int:
        token = token.strip().lower()
        if token[:3] in CRON_DAYS and not token.isdigit():
            return CRON_DAYS.index(token[:3])
        number = int(token)  # ValueError for anything else
        if not 0 <= number <= _DAYS_IN_WEEK:
            raise ValueError(f"day of week {number} is not in 0-7")
        return number

    days: set[int] = set()
    for part in field.split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in {part!r}")
        if span == "*":
            first, last = 0, _DAYS_IN_WEEK - 1
        elif "-" in span:
            low, high = span.split("-", 1)
            first, last = day(low), day(high)
        else:
            first = last = day(span)
        if first > last:
            raise ValueError(f"range {span!r} runs backwards")
        days.update(number % _DAYS_IN_WEEK for number in range(first, last + 1, step))
    return days


def cron_trigger(cron: str) -> CronTrigger:
    """A crontab expression (5 fields, UTC) as an APScheduler trigger, with crontab's weekday numbers.

    APScheduler 3's ``CronTrigger.from_crontab`` reads day-of-week numbers with 0 = Monday, so
    ``0 3 * * 0`` would fire on Mondays; the day-of-week field is handed over as day names instead.
    """
    fields = cron.split()
    if len(fields) != _CRON_FIELDS:
        raise ValueError(f"a cron expression has 5 fields (minute hour day month day-of-week), got {len(fields)}")
    minute, hour, day, month, weekdays = fields
    names = "*" if weekdays == "*" else ",".join(CRON_DAYS[d] for d in sorted(_cron_days(weekdays)))
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=names, timezone="UTC")


def make_trigger(cron: str | None, interval_seconds: int) -> BaseTrigger:
    """A cron trigger (5 fields, UTC) when ``cron`` is set, else an interval trigger."""
    if cron:
        try:
            return cron_trigger(cron)
        except ValueError as exc:
            raise ValueError(f"bad cron expression {cron!r}: {exc}") from exc
    if interval_seconds <= 0:
        raise ValueError(f"schedule interval must be positive, got {interval_seconds}")
    return IntervalTrigger(seconds=interval_seconds, timezone="UTC")


def make_tune_trigger(cron: str | None) -> BaseTrigger | None:
    """The re-tuning cron trigger (5 fields, UTC); None when ``cron`` is unset (never on a clock)."""
    if not cron:
        return None
    try:
        return cron_trigger(cron)
    except ValueError as exc:
        raise ValueError(f"bad tuning cron expression {cron!r}: {exc}") from exc


@dataclass(frozen=True)
class TuneJob:
    """Re-tuning as the scheduler sees it (``retune.Retuner``)."""

    #: Runs one tuning for the reason given; any exception it raises is logged.
    run: Callable[[str], object]
    #: Checked before each cycle: why a tuning is due (the growth trigger), or None.
    due: Callable[[], str | None]
    #: When to tune on a clock (``make_tune_trigger``); None: only when ``due`` says so.
    trigger: BaseTrigger | None = None


def run_scheduled(
    cycle: Callable[[], CycleResult],
    trigger: BaseTrigger,
    max_cycles: int | None = None,
    run_now: bool = True,
    tuning: TuneJob | None = None,
    before_cycle: Callable[[], None] | None = None,
) -> int:
    """Block running ``cycle`` on ``trigger`` until interrupted or ``max_cycles`` ran; return cycles run.

    With ``tuning``, a tuning runs on its trigger and before any cycle its ``due`` asks for; then
    ``before_cycle`` (e.g. applying the tuned file) runs before each cycle. A failed cycle or a failed
    tuning is logged and the schedule goes on (the previous version keeps serving).
    """
    scheduler = BlockingScheduler(timezone="UTC")
    one_at_a_time = threading.Lock()
    stopping = threading.Event()
    count = 0

    def tune(reason: str) -> None:
        assert tuning is not None
        try:
            tuning.run(reason)
        # A tuning is an optional improvement: whatever makes it fail (bad data, a store that is down,
        # a bug in a trial), the engine goes on with the model it has.
        except Exception:
            log.exception("tuning (%s) failed; the schedule goes on with the model configuration it had", reason)

    def job() -> None:
        nonlocal count
        with one_at_a_time:
            if tuning is not None:
                try:
                    reason = tuning.due()
                except Exception:  # the check reads the rating store: a failure skips the check only
                    log.exception("could not check whether a tuning is due")
                    reason = None
                if reason is not None:
                    tune(reason)
            if before_cycle is not None:
                before_cycle()
            try:
                result = cycle()
                log.info("cycle %s: %s %s", count + 1, result.status, result.version or "")
            except CycleError as exc:
                log.error("cycle %s failed: %s", count + 1, exc)
            count += 1
            if max_cycles is not None and count >= max_cycles:
                stopping.set()
                scheduler.shutdown(wait=False)

    def tune_job() -> None:
        with one_at_a_time:
            if not stopping.is_set():
                tune("scheduled")

    # The first cycle at once is the recurring job's first run (a one-shot job of its own would race
    # with a shutdown from inside the job: APScheduler then fails to remove the finished one-shot job).
    first: dict[str, datetime] = {"next_run_time": datetime.now(UTC)} if run_now else {}
    scheduler.add_job(job, trigger, id="engine-cycle", max_instances=1, coalesce=True, **first)
    if tuning is not None and tuning.trigger is not None:
        scheduler.add_job(tune_job, tuning.trigger, id="engine-tune", max_instances=1, coalesce=True)
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (docker stop) ends the loop like Ctrl-C: a running cycle finishes, no new one starts.
        signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):  # Ctrl-C ends the loop like SIGTERM
        scheduler.start()
    log.info("scheduler stopped after %d cycle(s)", count)
    return count
