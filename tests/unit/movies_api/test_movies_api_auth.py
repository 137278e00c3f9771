from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient

from movies_api.auth import InvalidToken, TokenPolicy, Viewer, decode_token
from movies_api.bootstrap import create_app
from movies_api.settings import MoviesApiSettings
from recsys_common.tokens import DEV_JWT_SECRET, issue_token
from tests.unit.movies_api.conftest import dead_url

SECRET = "auth-test-secret-of-at-least-32-bytes!!"
#: An expiry within the default maximum lifetime (a day).
SOON = int(time.time()) + 3600


def test_issued_token_decodes_to_its_viewer() -> None:
    assert decode_token(issue_token("alice", SECRET), SECRET) == Viewer("alice")
    operator = decode_token(issue_token("ops", SECRET, roles=["operator"]), SECRET)
    assert operator.is_operator
    assert not Viewer("alice").is_operator


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "alice"}, 'invalid token: Token is missing the "exp" claim'),
        ({"exp": SOON}, 'invalid token: Token is missing the "sub" claim'),
        ({"sub": "", "exp": SOON}, "invalid token subject: user id must not be empty"),
        ({"sub": "a\x00b", "exp": SOON}, "invalid token subject: user id must not contain control characters"),
        ({"sub": "alice", "exp": SOON, "roles": "operator"}, "token claim 'roles' must be a list of strings"),
    ],
)
def test_tokens_without_a_valid_subject_or_expiry_are_refused(claims, reason) -> None:
    with pytest.raises(InvalidToken) as caught:
        decode_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)
    assert str(caught.value) == reason


def test_expired_and_forged_tokens_are_refused() -> None:
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(issue_token("alice", SECRET, ttl_s=10, now=time.time() - 600), SECRET)  # past the leeway
    with pytest.raises(InvalidToken, match="Signature verification failed"):
        decode_token(issue_token("alice", DEV_JWT_SECRET), SECRET)


def test_other_algorithms_are_refused() -> None:
    token = jwt.encode({"sub": "alice", "exp": SOON}, SECRET * 2, algorithm="HS512")
    with pytest.raises(InvalidToken, match="alg value is not allowed"):
        decode_token(token, SECRET)


DAY_S = 86_400


def test_tokens_must_expire_within_the_maximum_lifetime_plus_the_leeway() -> None:
    policy = TokenPolicy(max_lifetime_s=DAY_S, leeway_s=60)
    now = time.time()
    assert decode_token(issue_token("alice", SECRET, ttl_s=DAY_S + 30, now=now), SECRET, policy).user_id == "alice"
    with pytest.raises(InvalidToken, match="it expires more than 86400 s from now"):
        decode_token(issue_token("alice", SECRET, ttl_s=DAY_S + 120, now=now), SECRET, policy)
    with pytest.raises(InvalidToken, match="it expires more than 86400 s from now"):
        decode_token(jwt.encode({"sub": "alice", "exp": 2**40}, SECRET, algorithm="HS256"), SECRET, policy)
    with pytest.raises(InvalidToken, match=r'missing the "exp" claim'):
        decode_token(jwt.encode({"sub": "alice"}, SECRET, algorithm="HS256"), SECRET, policy)


def test_the_leeway_absorbs_a_little_clock_skew_on_expiry() -> None:
    policy = TokenPolicy(leeway_s=60)
    just_expired = issue_token("alice", SECRET, ttl_s=10, now=time.time() - 30)
    assert decode_token(just_expired, SECRET, policy).user_id == "alice"
    with pytest.raises(InvalidToken, match="token has expired"):
        decode_token(just_expired, SECRET, TokenPolicy(leeway_s=0))


def test_audience_and_issuer_are_checked_when_configured() -> None:
    policy = TokenPolicy(audience="movies-api", issuer="https://auth.example")
    good = issue_token("alice", SECRET, audience="movies-api", issuer="https://auth.example")
    assert decode_token(good, SECRET, policy).user_id == "alice"
    refused = {
        issue_token("alice", SECRET, issuer="https://auth.example"): 'Token is missing the "aud" claim',
        issue_token("alice", SECRET, audience="movies-api"): 'Token is missing the "iss" claim',
        issue_token("alice", SECRET, audience="other-api", issuer="https://auth.example"): "Audience doesn't match",
        issue_token("alice", SECRET, audience="movies-api", issuer="https://evil.example"): "Invalid issuer",
    }
    for token, reason in refused.items():
        with pytest.raises(InvalidToken, match=reason):
            decode_token(token, SECRET, policy)


def test_without_a_configured_audience_a_token_naming_one_is_refused() -> None:
    with pytest.raises(InvalidToken, match="Invalid audience"):
        decode_token(issue_token("alice", SECRET, audience="movies-api"), SECRET)


def test_the_app_applies_the_token_settings(tmp_path, catalog, publisher) -> None:
    settings = MoviesApiSettings(
        data_dir=tmp_path,
        jwt_secret=SECRET,
        jwt_audience="movies-api",
        jwt_issuer="auth",
        jwt_max_lifetime_s=600,
        recommendations_api_url=dead_url(),
    )
    with TestClient(create_app(settings, catalog=catalog, publisher=publisher)) as client:

        def status(token: str) -> int:
            response = client.get("/api/v1/users/me/recommendations", headers={"Authorization": f"Bearer {token}"})
            code: int = response.status_code
            return code

        assert status(issue_token("alice", SECRET, ttl_s=300, audience="movies-api", issuer="auth")) == 200
        assert status(issue_token("alice", SECRET, ttl_s=3600, audience="movies-api", issuer="auth")) == 401
        assert status(issue_token("alice", SECRET, ttl_s=300, audience="movies-api")) == 401
