"""Settings of the Movies API process (environment variables ``RECSYS_*``)."""

from __future__ import annotations

from pydantic import Field, SecretStr

from recsys_common.settings import CommonSettings
from recsys_common.web import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_HEADER_BYTES

DEFAULT_PORT = 8000
#: HS256 keys shorter than this are brute-forceable (RFC 7518, section 3.2).
MIN_JWT_SECRET_BYTES = 32
DAY_S = 86_400


class MoviesApiSettings(CommonSettings):
    """One class per process: ``RECSYS_ELASTICSEARCH_URL`` selects Elasticsearch, ``RECSYS_KAFKA_BOOTSTRAP``
    Kafka; unset, the embedded SQLite catalogue and rating store are used."""

    #: Interface and port uvicorn listens on (``RECSYS_MOVIES_API_HOST``, ``RECSYS_MOVIES_API_PORT``).
    movies_api_host: str = "127.0.0.1"
    movies_api_port: int = Field(default=DEFAULT_PORT, ge=1, le=65_535)
    movies_api_log_level: str = "info"
    #: Larger request bodies are refused with 413 (a rating is a few bytes), larger headers with 431; the
    #: server itself closes connections whose request head exceeds the header limit plus a margin.
    movies_api_max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=0)
    movies_api_max_header_bytes: int = Field(default=DEFAULT_MAX_HEADER_BYTES, ge=1)

    #: Base URL of the Recommendations API, and how long to wait for it before falling back to IMDb-top.
    recommendations_api_url: str = "http://127.0.0.1:8001"
    recommendations_timeout_s: float = Field(default=0.5, gt=0)
    #: Circuit breaker toward the Recommendations API: after this many consecutive failures (timeouts,
    #: refused connections, 5xx, malformed answers) recommendations answer the IMDb-top fallback at once,
    #: without calling it; after the cool-down one request probes it, and its success closes the breaker.
    recommendations_circuit_failures: int = Field(default=5, ge=1)
    recommendations_circuit_cool_down_s: float = Field(default=5.0, gt=0)
    #: How long the fallbacks' views of the whole catalogue (IMDb-top lists, films sharing genres) are reused.
    imdb_top_ttl_s: float = Field(default=300.0, ge=0)

    #: Secret of the viewers' HS256 bearer tokens. Unset: a development secret, logged at start and
    #: refused when production adapters (Elasticsearch or Kafka) are configured.
    jwt_secret: SecretStr | None = Field(default=None, min_length=MIN_JWT_SECRET_BYTES)
    #: When set, tokens must carry this ``aud`` (and ``iss``). Unset, a token carrying ``aud`` is refused.
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    #: Tokens must expire (``exp``), and no later than this after now (plus the leeway): a leaked token
    #: cannot be valid for years. The leeway also absorbs clock skew on ``exp``, ``nbf`` and ``iat``.
    jwt_max_lifetime_s: int = Field(default=DAY_S, ge=1)
    jwt_leeway_s: int = Field(default=60, ge=0)

    #: How long a rating may wait for the publisher's acknowledgement.
    publish_timeout_s: float = Field(default=2.0, gt=0)
    #: Seconds a client should wait before retrying after a 503.
    retry_after_s: int = Field(default=5, ge=1)

    #: Search requests wait at most this long (the common default suits the engine's bulk reads).
    elasticsearch_timeout_s: float = Field(default=2.0, gt=0)

    @property
    def embedded(self) -> bool:
        """True when no production catalogue or broker is configured."""
        return not (self.elasticsearch_url or self.kafka_bootstrap)
