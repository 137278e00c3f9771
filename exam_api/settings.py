"""Settings of the course-exam API process (environment variables ``RECSYS_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from recsys_common.settings import CommonSettings

#: The ports the course's grader calls: ``/interact`` on the first, ``/recs`` on the second.
DEFAULT_INTERACT_PORT = 5000
DEFAULT_RECS_PORT = 5001
#: The grader wants at least this many items per ``/recs`` answer.
MIN_RECS = 10
MAX_RECS = 100
#: A batch of ``/add_items`` may hold every item at once (25,000 items with genres are about 1.5 MB).
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024


class ExamSettings(CommonSettings):
    """One class for the process. Unset server URLs select the embedded stores under ``data_dir``
    (its own folder by default: ``/cleanup`` wipes everything there); ``RECSYS_REDIS_URL`` moves the
    RecStore and the exam's own state to Redis, ``RECSYS_KAFKA_BOOTSTRAP`` the ratings to Kafka,
    ``RECSYS_CLICKHOUSE_URL`` the rating store to ClickHouse, ``RECSYS_ELASTICSEARCH_URL`` the
    catalogue to Elasticsearch."""

    data_dir: Path = Path("var/exam")
    #: The RecStore's Redis prefix (the engine's processes get the same one); not the platform's own.
    redis_prefix: str = "exam"

    #: Interface both ports listen on (``0.0.0.0`` in a container).
    exam_host: str = "127.0.0.1"
    exam_interact_port: int = Field(default=DEFAULT_INTERACT_PORT, ge=1, le=65_535)
    exam_recs_port: int = Field(default=DEFAULT_RECS_PORT, ge=1, le=65_535)
    exam_log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    #: Key prefix of the exam's own state (items, shown and interacted items, counts) in Redis.
    exam_state_prefix: str = "exam-state"

    #: Items per ``/recs`` answer.
    exam_recs_count: int = Field(default=MIN_RECS, ge=MIN_RECS, le=MAX_RECS)
    #: Share of a non-personal answer given to random unshown items (exploration), 0..1.
    exam_exploration_share: float = Field(default=0.1, ge=0.0, le=1.0)
    #: How strongly a non-personal answer avoids repeating genres (0: popularity order only).
    exam_diversity_weight: float = Field(default=0.3, ge=0.0)
    #: Seed of the exploration draws (each user's draw also depends on their id and history).
    exam_seed: int = 42
    #: How often the serving version is re-resolved in the RecStore.
    exam_refresh_ms: int = Field(default=500, ge=0)
    #: How long ``/interact`` waits for the rating path to accept the events.
    exam_publish_timeout_s: float = Field(default=5.0, gt=0.0)
    exam_max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)

    #: Run the engine's processes (``recsys schedule`` and ``recsys online``) as children of this
    #: one; off when they run as their own services (docker compose).
    exam_engine_children: bool = True
    #: Seconds between engine cycles (a cycle skips when no rating is new and the catalogue is unchanged).
    exam_engine_interval_s: int = Field(default=5, ge=1)
    #: Niceness of the children: retraining yields the CPU to the requests.
    exam_engine_nice: int = Field(default=10, ge=0, le=19)
    #: Threads of the children's training and scoring (RECSYS_MODEL__NUM_THREADS, RECSYS_LISTS__SCORE_THREADS).
    exam_engine_threads: int = Field(default=1, ge=1)
    #: Training epochs of the children (RECSYS_MODEL__EPOCHS; None: the engine's own 30). Fewer than
    #: the engine's default: a cycle on MovieLens-100K fits in about 3 s instead of 11 s on one thread,
    #: so the model catches up with the interactions faster (EASE, half of the blend, has no epochs).
    exam_engine_epochs: int | None = Field(default=10, ge=1)
