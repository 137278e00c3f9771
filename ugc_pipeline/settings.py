"""Settings of the UGC loader process (environment variables prefixed ``RECSYS_``)."""

from __future__ import annotations

from pydantic import Field

from recsys_common.events import RATINGS_DLQ_TOPIC, RATINGS_TOPIC
from recsys_common.settings import CommonSettings

DEFAULT_METRICS_PORT = 9108
MAX_PORT = 65_535


class UgcSettings(CommonSettings):
    """``RECSYS_KAFKA_BOOTSTRAP`` and ``RECSYS_CLICKHOUSE_URL`` (inherited) are required to run."""

    ugc_topic: str = RATINGS_TOPIC
    ugc_dlq_topic: str = RATINGS_DLQ_TOPIC
    ugc_group_id: str = "ugc-loader"
    #: A batch is flushed when it holds this many messages ...
    ugc_batch_size: int = Field(default=50_000, ge=1)
    #: ... or when its first message is this old.
    ugc_batch_timeout_s: float = Field(default=1.0, gt=0)
    ugc_poll_timeout_s: float = Field(default=0.2, gt=0)
    #: Retry delays while ClickHouse is down: doubling from the first to the cap.
    ugc_retry_initial_s: float = Field(default=0.5, gt=0)
    ugc_retry_max_s: float = Field(default=30.0, gt=0)
    #: After SIGTERM, how long the last flush may keep retrying (keep below the supervisor's grace).
    ugc_shutdown_timeout_s: float = Field(default=8.0, ge=0)
    #: Where ``/health`` and ``/metrics`` are served; compose sets the host to 0.0.0.0.
    ugc_metrics_host: str = "127.0.0.1"
    ugc_metrics_port: int = Field(default=DEFAULT_METRICS_PORT, ge=0, le=MAX_PORT)
