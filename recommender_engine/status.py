"""What ``recsys status`` reports: the serving version, the last cycle, pending versions (a publish
under way, or the remains of one that died: the next cycle removes them), and whether all is well.

The engine is healthy when a version is published and the last cycle did not fail. A failing
engine says why (the last error) and since when (the first failure after the last cycle that
published or skipped). Everything comes from the RecStore and the cycle journal; nothing reads
the rating store, so the answer comes even while ClickHouse is down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from recommender_engine.cycle import CycleJournal
from recsys_common.ports.recstore import RecAdmin, VersionMeta

FAILED = "failed"


@dataclass(frozen=True)
class EngineStatus:
    healthy: bool
    problem: str | None
    serving: VersionMeta | None
    serving_age_seconds: float | None
    last_cycle: dict[str, Any] | None
    failing_since: str | None
    failed_cycles: int
    versions: list[VersionMeta]
    store: str
    #: Versions being written, or left half-written by a publish that died (name -> start, unix s).
    pending: dict[str, float]
    now: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: one object for machines and healthchecks."""
        serving = None
        if self.serving is not None:
            meta = self.serving
            serving = {
                "version": meta.version,
                "model_version": meta.model_version,
                "trained_at": meta.trained_at,
                "published_at": meta.published_at,
                "age_seconds": None if self.serving_age_seconds is None else round(self.serving_age_seconds, 1),
                "users": meta.n_users,
                "films": meta.n_films,
                "watermark": meta.watermark,
                "catalog_digest": meta.catalog_digest,
                "metrics": meta.metrics,
            }
        return {
            "healthy": self.healthy,
            "problem": self.problem,
            "serving": serving,
            "last_cycle": self.last_cycle,
            "failing_since": self.failing_since,
            "failed_cycles": self.failed_cycles,
            "versions": [
                {"version": m.version, "model_version": m.model_version, "published_at": m.published_at}
                for m in self.versions
            ],
            "store": self.store,
            "pending": [
                {"version": name, "started_at": _iso(started), "age_seconds": round(self.now.timestamp() - started, 1)}
                for name, started in sorted(self.pending.items())
            ],
        }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 UTC time as written by the engine (``...Z``, or the compact ``%Y%m%dT%H%M%SZ``)."""
    for parse in (datetime.fromisoformat, lambda t: datetime.strptime(t, "%Y%m%dT%H%M%SZ")):
        try:
            value = parse(text)
        except ValueError:
            continue
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


def engine_status(store: RecAdmin, journal: CycleJournal, store_location: str, now: datetime) -> EngineStatus:
    """Read the serving version and the journal; raise StoreUnavailable when the store cannot be read."""
    serving = store.current()
    versions = store.versions()
    pending = store.pending()
    entries = journal.entries()
    failures = 0
    for entry in reversed(entries):
        if entry.get("status") != FAILED:
            break
        failures += 1
    last = entries[-1] if entries else None
    failing_since = str(entries[-failures]["at"]) if failures else None
    age = None
    if serving is not None:
        published = parse_time(serving.published_at)
        age = None if published is None else (now - published).total_seconds()
    problem = None
    if failures and last is not None:
        keeps = f"; version {serving.version} keeps serving" if serving is not None else ""
        problem = f"the last {failures} cycle(s) failed since {failing_since}: {last.get('error')}{keeps}"
    elif serving is None:
        problem = "no version is published yet: run `recsys run` (after `recsys data`)"
    return EngineStatus(
        healthy=problem is None,
        problem=problem,
        serving=serving,
        serving_age_seconds=age,
        last_cycle=last,
        failing_since=failing_since,
        failed_cycles=failures,
        versions=versions,
        store=store_location,
        pending=pending,
        now=now,
    )
