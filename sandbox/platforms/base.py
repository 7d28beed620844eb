"""What every imitated platform provides: its routers and the exact shape of its errors, so the shared machinery
(fault gate, token checks) answers in that platform's dialect."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.config import PlatformConfig
from sandbox.context import SandboxContext, context

AuthProblem = Literal["missing", "invalid", "expired", "revoked"]


class PlatformError(Exception):
    """Raised anywhere inside a platform route to answer with a ready-made platform-shaped response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class Platform(ABC):
    name: str

    # --- routes ----------------------------------------------------------------------------------------------

    @abstractmethod
    def router(self) -> APIRouter:
        """The connection-side routes (OAuth, profile). Paths are the real ones; the app adds `/{name}`."""

    # --- error dialect ---------------------------------------------------------------------------------------

    @abstractmethod
    def rate_limited(self, retry_after_s: int, now: float) -> Response: ...

    @abstractmethod
    def auth_error(self, problem: AuthProblem) -> Response: ...

    def server_error(self, status: int) -> Response:
        return JSONResponse({"error": "internal_error", "message": "sandbox injected server error"}, status_code=status)

    def token_error(self, error: str, description: str, status: int = 400) -> Response:
        """Error body of the OAuth token/revoke endpoints (RFC 6749 §5.2 unless the platform differs)."""
        return JSONResponse({"error": error, "error_description": description}, status_code=status)

    def authorize_page_error(self, error: str, description: str) -> Response:
        """Bad client_id or redirect_uri: platforms show an error page rather than redirecting (RFC 6749 §4.1.2.1)."""
        return JSONResponse({"error": error, "error_description": description}, status_code=400)

    # --- helpers ---------------------------------------------------------------------------------------------

    def bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None

    def ctx(self, request: Request) -> SandboxContext:
        return context(request)

    def cfg(self, request: Request) -> PlatformConfig:
        return context(request).config.platform(self.name)


def epoch_in(seconds: int, now: float | None = None) -> int:
    return int((now if now is not None else time.time()) + seconds)
