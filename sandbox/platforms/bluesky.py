"""Bluesky PDS (AT Protocol XRPC): app-password sessions instead of OAuth. Sessions are JWTs (HS256 here, so a client
may read `exp`); refreshSession rotates the refresh JWT. Expired access → 400 ExpiredToken, bad token → 401."""

from __future__ import annotations

import uuid

import jwt
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.config import PlatformConfig
from sandbox.oauth import authenticate, jwt_key
from sandbox.params import body_params
from sandbox.platforms.base import AuthProblem, Platform, PlatformError, epoch_in
from sandbox.state import Token, TokenKind

SERVICE_DID = "did:web:sandbox.bsky.invalid"
_AUTH: dict[AuthProblem, tuple[int, str, str]] = {
    "missing": (401, "AuthMissing", "Authentication Required"),
    "invalid": (401, "InvalidToken", "Token could not be verified"),
    "expired": (400, "ExpiredToken", "Token has expired"),
    "revoked": (401, "InvalidToken", "Token has been revoked"),
}


def xrpc_error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


class Bluesky(Platform):
    name = "bluesky"

    def rate_limited(self, retry_after_s: int, now: float) -> Response:
        response = xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded")
        response.headers["RateLimit-Limit"] = "30"
        response.headers["RateLimit-Remaining"] = "0"
        response.headers["RateLimit-Reset"] = str(epoch_in(retry_after_s, now))
        response.headers["RateLimit-Policy"] = "30;w=300"
        return response

    def auth_error(self, problem: AuthProblem) -> Response:
        return xrpc_error(*_AUTH[problem])

    def server_error(self, status: int) -> Response:
        return xrpc_error(status, "InternalServerError", "Internal Server Error")

    def token_error(self, error: str, description: str, status: int = 400) -> Response:
        return xrpc_error(status, error, description)

    async def _mint(self, request: Request, cfg: PlatformConfig, kind: TokenKind, family: str) -> Token:
        state = self.ctx(request).state
        now = state.now()
        ttl = cfg.access_ttl_s if kind == "access" else cfg.refresh_ttl_s
        exp = None if ttl is None else now + ttl
        claims: dict[str, object] = {
            "scope": "com.atproto.access" if kind == "access" else "com.atproto.refresh",
            "sub": cfg.user.id,
            "aud": SERVICE_DID,
            "iat": int(now),
            "jti": uuid.uuid4().hex,
        }
        if exp is not None:
            claims["exp"] = int(exp)
        value = jwt.encode(claims, jwt_key(cfg.client_secret), algorithm="HS256")
        token = Token(
            value=value,
            platform=self.name,
            kind=kind,
            family=family,
            client_id=cfg.client_id,
            user_id=cfg.user.id,
            scope=str(claims["scope"]),
            issued_at=now,
            expires_at=exp,
        )
        await state.add_token(token)
        return token

    async def _session(self, request: Request, family: str) -> dict[str, object]:
        cfg = self.cfg(request)
        access = await self._mint(request, cfg, "access", family)
        refresh = await self._mint(request, cfg, "refresh", family)
        return {
            "accessJwt": access.value,
            "refreshJwt": refresh.value,
            "handle": cfg.user.handle,
            "did": cfg.user.id,
            "active": True,
        }

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/xrpc/com.atproto.server.createSession", name="create_session")
        async def create_session(request: Request) -> Response:
            params = await body_params(request, allow_json=True)
            if params is None or request.headers.get("content-type", "").split(";")[0] != "application/json":
                return xrpc_error(400, "InvalidRequest", "Request encoding (Content-Type) required but not provided")
            cfg = self.cfg(request)
            identifier = (params.get("identifier") or "").lower().removeprefix("@")
            known = {cfg.user.handle.lower(), cfg.user.id.lower(), cfg.user.email.lower()}
            if identifier not in known or params.get("password") != cfg.app_password:
                return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            body = await self._session(request, f"session:{uuid.uuid4().hex}")
            body.update(email=cfg.user.email, emailConfirmed=True)
            return JSONResponse(body)

        @router.post("/xrpc/com.atproto.server.refreshSession", name="refresh")
        async def refresh_session(request: Request) -> Response:
            value = self.bearer(request)
            if not value:
                raise PlatformError(self.auth_error("missing"))
            state = self.ctx(request).state
            known = state.get_token(value)
            if known is not None and known.kind == "access":
                return xrpc_error(400, "InvalidToken", "Invalid token type")
            old, reason = await state.use_refresh(value, rotate=True, reuse_revokes_family=False)
            if old is None:
                if reason == "unknown":
                    raise PlatformError(self.auth_error("invalid"))
                return xrpc_error(
                    400, "ExpiredToken", "Token has been revoked" if reason != "expired" else "Token has expired"
                )
            return JSONResponse(await self._session(request, old.family))

        @router.post("/xrpc/com.atproto.server.deleteSession", name="revoke")
        async def delete_session(request: Request) -> Response:
            value = self.bearer(request)
            state = self.ctx(request).state
            token = state.get_token(value or "")
            if token is None or token.kind != "refresh":
                raise PlatformError(self.auth_error("invalid"))
            await state.revoke_token(token.value, family=True)
            return Response(status_code=200)

        @router.get("/xrpc/com.atproto.server.getSession", name="get_session")
        async def get_session(request: Request) -> Response:
            await authenticate(request, self, self.bearer(request))
            user = self.cfg(request).user
            return JSONResponse(
                {"handle": user.handle, "did": user.id, "email": user.email, "emailConfirmed": True, "active": True}
            )

        @router.get("/xrpc/app.bsky.actor.getProfile", name="profile")
        async def get_profile(request: Request, actor: str) -> Response:
            await authenticate(request, self, self.bearer(request))
            user = self.cfg(request).user
            if actor.lower().removeprefix("@") not in {user.handle.lower(), user.id.lower()}:
                return xrpc_error(400, "InvalidRequest", "Profile not found")
            return JSONResponse(
                {
                    "did": user.id,
                    "handle": user.handle,
                    "displayName": user.name,
                    "avatar": user.picture,
                    "description": "",
                    "followersCount": 0,
                    "followsCount": 0,
                    "postsCount": 0,
                }
            )

        return router
