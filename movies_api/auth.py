"""Viewers' bearer tokens: HS256 JWTs whose ``sub`` is the user id; ``roles`` may hold ``operator``.

A token must expire (``exp``) within ``TokenPolicy.max_lifetime_s`` (plus the leeway) from now, and
carry the configured audience and issuer, if any. Every refusal is ``InvalidToken`` with a message
(the API answers 401), whatever the claims hold: a subject outside the user-id alphabet (lone
surrogates, '/', control characters), claims of the wrong type or out of range.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

from recsys_common.ids import validate_user_id
from recsys_common.tokens import ALGORITHM

OPERATOR_ROLE = "operator"
DEFAULT_MAX_TOKEN_LIFETIME_S = 86_400
DEFAULT_LEEWAY_S = 60


class InvalidToken(ValueError):
    """The token is missing, expired, forged, too long-lived or names no valid user."""


@dataclass(frozen=True)
class TokenPolicy:
    """What a validly signed token must also satisfy (settings ``RECSYS_JWT_*``)."""

    audience: str | None = None
    issuer: str | None = None
    max_lifetime_s: float = DEFAULT_MAX_TOKEN_LIFETIME_S
    leeway_s: float = DEFAULT_LEEWAY_S


@dataclass(frozen=True)
class Viewer:
    user_id: str
    roles: frozenset[str] = frozenset()

    @property
    def is_operator(self) -> bool:
        return OPERATOR_ROLE in self.roles


#: No audience or issuer, the default lifetime and leeway.
DEFAULT_POLICY = TokenPolicy()


def decode_token(token: str, secret: str, policy: TokenPolicy = DEFAULT_POLICY) -> Viewer:
    """The viewer a token names; raise InvalidToken saying why it is refused."""
    required = ["exp", "sub"]
    if policy.audience is not None:
        required.append("aud")
    if policy.issuer is not None:
        required.append("iss")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=policy.leeway_s,
            options={"require": required},
        )
        expires = int(claims["exp"])  # PyJWT checked that it converts
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"invalid token: {exc}") from exc
    except (OverflowError, ValueError, TypeError) as exc:  # a claim PyJWT does not expect, e.g. exp of 1e400
        raise InvalidToken(f"invalid token: malformed claim ({type(exc).__name__})") from exc
    if expires - time.time() > policy.max_lifetime_s + policy.leeway_s:
        raise InvalidToken(f"invalid token: it expires more than {policy.max_lifetime_s:g} s from now")
    try:
        user_id = validate_user_id(claims["sub"])
    except (ValueError, TypeError) as exc:
        raise InvalidToken(f"invalid token subject: {exc}") from exc
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise InvalidToken("token claim 'roles' must be a list of strings")
    return Viewer(user_id, frozenset(roles))
