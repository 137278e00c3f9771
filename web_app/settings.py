"""Settings of the web app process (environment variables ``RECSYS_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from recsys_common.settings import CommonSettings

DEFAULT_PORT = 8080
#: HS256 keys shorter than this are brute-forceable (RFC 7518, section 3.2); the Movies API refuses them too.
MIN_JWT_SECRET_BYTES = 32
DAY_S = 86_400
#: ``dev``: the app's own sign-in form mints the viewer's token; ``proxy``: an authenticating proxy in
#: front of the app passes the identity provider's token as ``Authorization: Bearer``.
AuthMode = Literal["dev", "proxy"]


class WebSettings(CommonSettings):
    """The web app talks to the Movies API only, over HTTP; it needs the token settings to sign viewers in."""

    #: Interface and port uvicorn listens on (``RECSYS_WEB_HOST``, ``RECSYS_WEB_PORT``).
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=DEFAULT_PORT, ge=1, le=65_535)
    web_log_level: str = "info"
    #: Base URL of the Movies API, and how long to wait for one of its answers.
    web_movies_api_url: str = "http://127.0.0.1:8000"
    web_movies_api_timeout_s: float = Field(default=5.0, gt=0)
    #: How viewers sign in: ``dev`` (a name field; the app signs the token) or ``proxy`` (the upstream
    #: proxy's ``Authorization: Bearer`` header; the sign-in form is off).
    web_auth: AuthMode = "dev"
    #: Lifetime of a token the dev sign-in mints (at most ``RECSYS_JWT_MAX_LIFETIME_S``).
    web_session_ttl_s: int = Field(default=8 * 3600, ge=60)
    #: Send the sign-in cookie over HTTPS only (set it when the app is served over HTTPS).
    web_cookie_secure: bool = False

    #: The Movies API's token settings (same variables): the dev sign-in signs with them.
    jwt_secret: SecretStr | None = Field(default=None, min_length=MIN_JWT_SECRET_BYTES)
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_max_lifetime_s: int = Field(default=DAY_S, ge=1)
