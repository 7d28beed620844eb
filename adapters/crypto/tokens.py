"""Access tokens: short-lived HS256 JWTs (PyJWT). Refresh tokens and API keys are opaque random strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from domain.auth import AccessClaims, Role
from domain.errors import Unauthorized

_ALGORITHM = "HS256"


class JwtTokenIssuer:
    def __init__(self, secret: str, issuer: str, ttl_s: int) -> None:
        self._secret = secret
        self._issuer = issuer
        self.ttl_s = ttl_s

    def issue_access(self, claims: AccessClaims, now: datetime) -> str:
        payload = {
            "iss": self._issuer,
            "sub": claims.user_id,
            "org": claims.organization_id,
            "role": claims.role.value,
            "sid": claims.session_id,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl_s)).timestamp()),
            "typ": "access",
        }
        return jwt.encode(payload, self._secret, algorithm=_ALGORITHM)

    def verify_access(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "org", "sid"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The access token has expired.", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("The access token is invalid.", code="token_invalid") from None
        if payload.get("typ") != "access":
            raise Unauthorized("The access token is invalid.", code="token_invalid")
        try:
            role = Role(payload["role"])
        except (KeyError, ValueError):
            raise Unauthorized("The access token is invalid.", code="token_invalid") from None
        return AccessClaims(
            user_id=str(payload["sub"]),
            organization_id=str(payload["org"]),
            role=role,
            session_id=str(payload["sid"]),
            expires_at=datetime.fromtimestamp(int(payload["exp"]), tz=UTC),
        )
