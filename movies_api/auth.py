"""Viewers' bearer tokens: HS256 JWTs whose ``sub`` is the user id; ``roles`` may hold ``operator``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import jwt

from recsys_common.ids import validate_user_id

ALGORITHM = "HS256"
#: Used when RECSYS_JWT_SECRET is unset, in the embedded setup only; the app logs it at start.
DEV_JWT_SECRET = "recsys-development-secret-never-use-in-production"  # noqa: S105 - public by design
OPERATOR_ROLE = "operator"
DEFAULT_TOKEN_TTL_S = 3600


class InvalidToken(ValueError):
    """The token is missing, expired, forged or names no valid user."""


@dataclass(frozen=True)
class Viewer:
    user_id: str
    roles: frozenset[str] = frozenset()

    @property
    def is_operator(self) -> bool:
        return OPERATOR_ROLE in self.roles


def decode_token(token: str, secret: str) -> Viewer:
    """The viewer a token names; raise InvalidToken saying why it is refused."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"invalid token: {exc}") from exc
    try:
        user_id = validate_user_id(claims["sub"])
    except (ValueError, TypeError) as exc:
        raise InvalidToken(f"invalid token subject: {exc}") from exc
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("token claim 'roles' must be a list of strings")
    return Viewer(user_id, frozenset(roles))


def issue_token(
    user_id: str, secret: str, ttl_s: float = DEFAULT_TOKEN_TTL_S, roles: Sequence[str] = (), now: float | None = None
) -> str:
    """A signed token for ``user_id`` (development and tests; production tokens come from the auth service)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, object] = {"sub": validate_user_id(user_id), "iat": issued, "exp": issued + int(ttl_s)}
    if roles:
        claims["roles"] = list(roles)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
