from __future__ import annotations

import time

import jwt
import pytest

from movies_api.auth import DEV_JWT_SECRET, InvalidToken, Viewer, decode_token, issue_token

SECRET = "auth-test-secret-of-at-least-32-bytes!!"


def test_issued_token_decodes_to_its_viewer() -> None:
    assert decode_token(issue_token("alice", SECRET), SECRET) == Viewer("alice")
    operator = decode_token(issue_token("ops", SECRET, roles=["operator"]), SECRET)
    assert operator.is_operator
    assert not Viewer("alice").is_operator


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"sub": "alice"}, 'invalid token: Token is missing the "exp" claim'),
        ({"exp": 2**40}, 'invalid token: Token is missing the "sub" claim'),
        ({"sub": "", "exp": 2**40}, "invalid token subject: user id must not be empty"),
        ({"sub": "a\x00b", "exp": 2**40}, "invalid token subject: user id must not contain control characters"),
        ({"sub": "alice", "exp": 2**40, "roles": "operator"}, "token claim 'roles' must be a list of strings"),
    ],
)
def test_tokens_without_a_valid_subject_or_expiry_are_refused(claims, reason) -> None:
    with pytest.raises(InvalidToken) as caught:
        decode_token(jwt.encode(claims, SECRET, algorithm="HS256"), SECRET)
    assert str(caught.value) == reason


def test_expired_and_forged_tokens_are_refused() -> None:
    with pytest.raises(InvalidToken, match="expired"):
        decode_token(issue_token("alice", SECRET, ttl_s=10, now=time.time() - 60), SECRET)
    with pytest.raises(InvalidToken, match="Signature verification failed"):
        decode_token(issue_token("alice", DEV_JWT_SECRET), SECRET)


def test_other_algorithms_are_refused() -> None:
    token = jwt.encode({"sub": "alice", "exp": 2**40}, SECRET * 2, algorithm="HS512")
    with pytest.raises(InvalidToken, match="alg value is not allowed"):
        decode_token(token, SECRET)
