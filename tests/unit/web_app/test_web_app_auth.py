"""The web app's dev sign-in mints exactly the tokens the Movies API accepts, with the same settings."""

from __future__ import annotations

import jwt
import pytest
from starlette.requests import Request

from movies_api.auth import InvalidToken, TokenPolicy, decode_token
from recsys_common.tokens import DEV_JWT_SECRET
from web_app.auth import COOKIE, SignIn
from web_app.settings import WebSettings

SECRET = "unit-secret-of-at-least-thirty-two-bytes!"


def request_with(headers: dict[str, str]) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


def test_a_minted_token_is_accepted_by_the_movies_api_with_audience_and_issuer():
    settings = WebSettings(jwt_secret=SECRET, jwt_audience="films", jwt_issuer="recsys-web")
    token = SignIn(settings).mint("Ana María")
    viewer = decode_token(token, SECRET, TokenPolicy(audience="films", issuer="recsys-web"))
    assert viewer.user_id == "Ana María"
    with pytest.raises(InvalidToken):
        decode_token(token, SECRET, TokenPolicy(audience="other"))
    with pytest.raises(InvalidToken):
        decode_token(token, "another-secret-of-at-least-thirty-two-bytes")


def test_the_development_secret_is_the_movies_apis():
    token = SignIn(WebSettings()).mint("viewer")
    assert decode_token(token, DEV_JWT_SECRET).user_id == "viewer"


def test_the_lifetime_stays_within_the_movies_apis_maximum():
    sign_in = SignIn(WebSettings(jwt_secret=SECRET, web_session_ttl_s=7200, jwt_max_lifetime_s=600))
    claims = jwt.decode(sign_in.mint("v", now=1_000), SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims["exp"] - claims["iat"] == 600


@pytest.mark.parametrize("name", ["", "a/b", "bad\nname", "x" * 129])
def test_names_that_are_no_user_id_are_refused(name):
    with pytest.raises(ValueError, match="user id"):
        SignIn(WebSettings(jwt_secret=SECRET)).mint(name)


def test_dev_mode_reads_the_cookie_and_ignores_an_authorization_header():
    sign_in = SignIn(WebSettings(jwt_secret=SECRET))
    token = sign_in.mint("viewer")
    viewer = sign_in.viewer(request_with({"Cookie": f"{COOKIE}={token}"}))
    assert viewer is not None and viewer.user_id == "viewer"
    assert sign_in.viewer(request_with({"Authorization": f"Bearer {token}"})) is None
    assert sign_in.viewer(request_with({"Cookie": f"{COOKIE}=garbage"})) is None


def test_proxy_mode_reads_the_bearer_header_and_ignores_the_cookie():
    sign_in = SignIn(WebSettings(jwt_secret=SECRET, web_auth="proxy"))
    token = SignIn(WebSettings(jwt_secret=SECRET)).mint("upstream-user")
    viewer = sign_in.viewer(request_with({"Authorization": f"Bearer {token}"}))
    assert viewer is not None and viewer.user_id == "upstream-user"
    assert sign_in.viewer(request_with({"Cookie": f"{COOKIE}={token}"})) is None
