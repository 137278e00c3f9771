"""Viewers' bearer tokens as every service signs them: HS256 JWTs whose ``sub`` is the user id.

The Movies API checks them (``movies_api.auth``); the web app's development sign-in and the Movies
API's ``token`` command mint them here, so both sign the same claims with the same algorithm.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import jwt

from recsys_common.ids import validate_user_id

ALGORITHM = "HS256"
#: Used when RECSYS_JWT_SECRET is unset, on the embedded default only; public by design (the Movies
#: API logs it at start and refuses it next to Elasticsearch or Kafka).
DEV_JWT_SECRET = "recsys-development-secret-never-use-in-production"  # noqa: S105 - public by design
DEFAULT_TOKEN_TTL_S = 3600


def issue_token(
    user_id: str,
    secret: str,
    ttl_s: float = DEFAULT_TOKEN_TTL_S,
    roles: Sequence[str] = (),
    now: float | None = None,
    audience: str | None = None,
    issuer: str | None = None,
) -> str:
    """A signed token for ``user_id`` (ValueError when it is not a valid user id): development
    sign-in, the ``token`` command and tests; production tokens come from the identity provider."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {"sub": validate_user_id(user_id), "iat": issued, "exp": issued + int(ttl_s)}
    if roles:
        claims["roles"] = list(roles)
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
