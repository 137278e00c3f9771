"""Settings of the UGC loader process (environment variables prefixed ``RECSYS_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from recsys_common.events import RATINGS_DLQ_TOPIC, RATINGS_TOPIC
from recsys_common.settings import CommonSettings
from ugc_pipeline.loader import LoaderConfig

DEFAULT_METRICS_PORT = 9108
MAX_PORT = 65_535
#: librdkafka's default: a loader that died silently keeps its partitions this long.
DEFAULT_SESSION_TIMEOUT_MS = 45_000
#: The least session timeout Kafka brokers accept by default (group.min.session.timeout.ms).
MIN_SESSION_TIMEOUT_MS = 6_000


class UgcSettings(CommonSettings):
    """``RECSYS_KAFKA_BOOTSTRAP`` and ``RECSYS_CLICKHOUSE_URL`` (inherited) are required to run.

    The loop's knobs are nested: ``RECSYS_UGC_LOADER__BATCH_SIZE=10000`` sets
    ``ugc_loader.batch_size`` (fields and defaults: ``ugc_pipeline.loader.LoaderConfig``).
    """

    model_config = SettingsConfigDict(env_prefix="RECSYS_", extra="forbid", frozen=True, env_nested_delimiter="__")

    ugc_topic: str = RATINGS_TOPIC
    ugc_dlq_topic: str = RATINGS_DLQ_TOPIC
    ugc_group_id: str = "ugc-loader"
    #: How long the group waits for a loader that stopped heartbeating (killed, frozen) before its
    #: partitions go to the other loaders of the group (librdkafka ``session.timeout.ms``).
    ugc_session_timeout_ms: int = Field(default=DEFAULT_SESSION_TIMEOUT_MS, ge=MIN_SESSION_TIMEOUT_MS)
    ugc_loader: LoaderConfig = LoaderConfig()
    #: Where ``/health`` and ``/metrics`` are served; compose sets the host to 0.0.0.0.
    ugc_metrics_host: str = "127.0.0.1"
    ugc_metrics_port: int = Field(default=DEFAULT_METRICS_PORT, ge=0, le=MAX_PORT)
