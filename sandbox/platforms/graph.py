"""Meta Graph dialect shared by Facebook, Instagram and Threads: `{"error": {message, type, code, error_subcode,
fbtrace_id}}`, code 190 for bad tokens, usage headers instead of rate-limit headers, `access_token` as a query
parameter, and the short-lived → long-lived token exchange."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from sandbox.oauth import OAuthFailure, authenticate, issue, seconds_left
from sandbox.platforms.base import AuthProblem, Platform
from sandbox.state import Token, new_secret

VERSION_PATTERN = r"^v\d+\.\d+$"


def graph_error(
    status: int, message: str, code: int, subcode: int | None = None, kind: str = "OAuthException", **extra: Any
) -> JSONResponse:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": new_secret("A", 9)}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return JSONResponse({"error": error}, status_code=status)


_AUTH: dict[AuthProblem, tuple[int, str, int | None]] = {
    "missing": (2500, "An active access token must be used to query information about the current user.", None),
    "invalid": (190, "Invalid OAuth access token - Cannot parse access token", None),
    "expired": (190, "Error validating access token: Session has expired.", 463),
    "revoked": (190, "Error validating access token: The user has not authorized application.", 458),
}

# OAuth failures become Graph errors: code 100 (invalid parameter) with the subcodes Meta uses for codes.
_TOKEN_ERRORS: dict[str, tuple[int, int | None]] = {
    "invalid_client": (101, None),
    "invalid_grant": (100, 36009),
    "invalid_request": (100, None),
    "unsupported_grant_type": (100, None),
}


class GraphPlatform(Platform):
    usage_type = "pages"

    def rate_limited(self, retry_after_s: int, now: float) -> Response:
        response = graph_error(429, "(#4) Application request limit reached", 4, is_transient=True)
        usage = {"call_count": 100, "total_cputime": 100, "total_time": 100}
        # estimated_time_to_regain_access is in minutes on the real API.
        minutes = math.ceil(retry_after_s / 60)
        buc = {"sandbox": [{"type": self.usage_type, **usage, "estimated_time_to_regain_access": minutes}]}
        response.headers["X-App-Usage"] = json.dumps(usage)
        response.headers["X-Business-Use-Case-Usage"] = json.dumps(buc)
        return response

    def auth_error(self, problem: AuthProblem) -> Response:
        code, message, subcode = _AUTH[problem]
        return graph_error(401, message, code, subcode)

    def server_error(self, status: int) -> Response:
        message = "An unexpected error has occurred. Please retry your request later."
        return graph_error(status, message, 2, is_transient=True)

    def token_error(self, error: str, description: str, status: int = 400) -> Response:
        code, subcode = _TOKEN_ERRORS.get(error, (100, None))
        return graph_error(400, description, code, subcode if error == "invalid_grant" else None)

    def bearer(self, request: Request) -> str | None:
        return request.query_params.get("access_token") or super().bearer(request)

    async def exchange_long_lived(self, request: Request, short: str | None) -> Response:
        """fb_exchange_token / ig_exchange_token / th_exchange_token: a valid short-lived token → ~60 d token."""
        if not short:
            raise OAuthFailure("invalid_request", "Missing access token to exchange")
        token = await authenticate(request, self, short)
        return await self._long_lived(request, token)

    async def refresh_long_lived(self, request: Request, value: str | None) -> Response:
        """ig_refresh_token / th_refresh_token: only a long-lived token at least min_refresh_age_s old."""
        token = await authenticate(request, self, value)
        cfg = self.cfg(request)
        now = self.ctx(request).state.now()
        if not token.extra.get("long_lived"):
            raise OAuthFailure("invalid_request", "Only long-lived access tokens can be refreshed")
        if now - token.issued_at < cfg.min_refresh_age_s:
            raise OAuthFailure("invalid_request", "The access token must be at least 24 hours old to be refreshed")
        return await self._long_lived(request, token)

    async def _long_lived(self, request: Request, token: Token) -> Response:
        cfg = self.cfg(request)
        access, _ = await issue(
            request,
            self,
            client_id=token.client_id,
            user_id=token.user_id,
            scope=token.scope,
            family=token.family,
            access_ttl_s=cfg.long_lived_ttl_s,
            refresh=False,
        )
        access.extra["long_lived"] = True
        now = self.ctx(request).state.now()
        return JSONResponse(
            {"access_token": access.value, "token_type": "bearer", "expires_in": seconds_left(access, now)}
        )


def requested_fields(request: Request, default: tuple[str, ...]) -> list[str]:
    raw = request.query_params.get("fields")
    return [f.strip() for f in raw.split(",") if f.strip()] if raw else list(default)
