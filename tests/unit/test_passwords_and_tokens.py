from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from adapters.crypto.passwords import Argon2PasswordHasher
from adapters.crypto.tokens import JwtTokenIssuer
from domain.auth import AccessClaims, Role
from domain.errors import Unauthorized

CLAIMS = AccessClaims(user_id="u1", organization_id="o1", role=Role.ADMIN, session_id="s1")


def test_passwords_are_hashed_with_argon2id_and_verified() -> None:
    hasher = Argon2PasswordHasher()
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$")
    assert hasher.verify(hashed, "correct horse")
    assert not hasher.verify(hashed, "wrong horse")
    assert not hasher.verify(None, "not-a-real-password")  # the dummy hash never admits anyone
    assert not hasher.verify("garbage", "x")


def test_access_token_round_trip() -> None:
    issuer = JwtTokenIssuer("k" * 40, "souls", 900)
    now = datetime.now(UTC)
    token = issuer.issue_access(CLAIMS, now)
    verified = issuer.verify_access(token)
    assert dataclasses.replace(verified, expires_at=CLAIMS.expires_at) == CLAIMS
    assert int(verified.expires_at.timestamp()) == int((now + timedelta(seconds=900)).timestamp())


def test_expired_access_token_is_rejected() -> None:
    issuer = JwtTokenIssuer("k" * 40, "souls", 60)
    token = issuer.issue_access(CLAIMS, datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(Unauthorized) as info:
        issuer.verify_access(token)
    assert info.value.code == "token_expired"


@pytest.mark.parametrize(
    "payload_change",
    [{"typ": "refresh"}, {"iss": "someone-else"}, {"role": "superuser"}],
)
def test_tokens_with_wrong_claims_are_rejected(payload_change: dict[str, str]) -> None:
    now = datetime.now(UTC)
    payload = {
        "iss": "souls",
        "sub": "u1",
        "org": "o1",
        "role": "admin",
        "sid": "s1",
        "typ": "access",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        **payload_change,
    }
    token = jwt.encode(payload, "k" * 40, algorithm="HS256")
    with pytest.raises(Unauthorized):
        JwtTokenIssuer("k" * 40, "souls", 900).verify_access(token)


def test_unsigned_token_is_rejected() -> None:
    token = jwt.encode({"sub": "u1"}, key=None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(Unauthorized):
        JwtTokenIssuer("k" * 40, "souls", 900).verify_access(token)
