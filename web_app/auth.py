"""Who the viewer is: the Movies API's HS256 bearer token, minted here by the development sign-in
(``RECSYS_WEB_AUTH=dev``) and kept in an HttpOnly cookie, or passed in by an authenticating proxy
(``proxy``) as ``Authorization: Bearer``. The Movies API checks the token on every call; the app reads
its subject only to greet the viewer."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import jwt
from fastapi import Request

from recsys_common.ids import validate_user_id
from recsys_common.tokens import ALGORITHM, DEV_JWT_SECRET, issue_token
from web_app.settings import WebSettings

log = logging.getLogger(__name__)

COOKIE = "recsys_token"
BEARER = "bearer "


@dataclass(frozen=True)
class Viewer:
    user_id: str
    token: str


class SignIn:
    """Mints and reads viewers' tokens with the Movies API's token settings."""

    def __init__(self, settings: WebSettings) -> None:
        self.mode = settings.web_auth
        if settings.jwt_secret is not None:
            self._secret = settings.jwt_secret.get_secret_value()
        else:
            self._secret = DEV_JWT_SECRET
            if self.mode == "dev":
                log.warning("RECSYS_JWT_SECRET is not set: signing viewers in with the public development secret")
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self.ttl_s = min(settings.web_session_ttl_s, settings.jwt_max_lifetime_s)

    def mint(self, user_id: str, now: float | None = None) -> str:
        """A token for ``user_id`` (ValueError when the id is not a valid user id)."""
        return issue_token(user_id, self._secret, self.ttl_s, now=now, audience=self._audience, issuer=self._issuer)

    def viewer(self, request: Request) -> Viewer | None:
        """The signed-in viewer of ``request``, or None (no token, or a token whose subject is unreadable)."""
        if self.mode == "proxy":
            header = request.headers.get("authorization", "")
            token = header[len(BEARER) :] if header.lower().startswith(BEARER) else ""
        else:
            token = request.cookies.get(COOKIE, "")
        if not token:
            return None
        try:
            # Only the subject is read here, to greet the viewer; the Movies API verifies the token.
            claims = jwt.decode(token, options={"verify_signature": False}, algorithms=[ALGORITHM])
            return Viewer(validate_user_id(claims["sub"]), token)
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
            return None
