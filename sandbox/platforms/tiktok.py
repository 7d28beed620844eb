"""TikTok v2: `client_key` instead of client_id, comma-separated scopes, rotating refresh tokens, API errors as
`{"data": ..., "error": {"code", "message", "log_id"}}` with `code == "ok"` on success."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.oauth import (
    AuthorizePolicy,
    AuthorizeRequest,
    OAuthFailure,
    authenticate,
    authorize,
    check_client_secret,
    issue,
    redeem_code,
    redirect_glob_match,
    seconds_left,
)
from sandbox.params import body_params, query_params
from sandbox.platforms.base import AuthProblem, Platform, PlatformError
from sandbox.state import new_secret

SCOPES = frozenset(
    {"user.info.basic", "user.info.profile", "user.info.stats", "video.publish", "video.upload", "video.list"}
)
POLICY = AuthorizePolicy(allowed_scopes=SCOPES, scope_sep=",")


def api_error(status: int, code: str, message: str, data: dict[str, Any] | None = None) -> JSONResponse:
    error = {"code": code, "message": message, "log_id": new_secret("", 12)}
    return JSONResponse({"data": data or {}, "error": error}, status_code=status)


class TikTok(Platform):
    name = "tiktok"

    def rate_limited(self, retry_after_s: int, now: float) -> Response:
        # TikTok documents no rate-limit headers: the error code is the only signal.
        return api_error(429, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.")

    def auth_error(self, problem: AuthProblem) -> Response:
        return api_error(401, "access_token_invalid", "The access token is invalid or not found in the request.")

    def server_error(self, status: int) -> Response:
        return api_error(status, "internal_error", "Something went wrong. Please try again later.")

    def token_error(self, error: str, description: str, status: int = 400) -> Response:
        body = {"error": error, "error_description": description, "log_id": new_secret("", 12)}
        return JSONResponse(body, status_code=status)

    def _form_client(self, request: Request, client_key: str | None, secret: str | None) -> str:
        cfg = self.cfg(request)
        return check_client_secret(client_key, secret, (cfg.client_id, cfg.client_secret))

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/v2/auth/authorize/", name="authorize")
        async def authorize_(request: Request) -> Response:
            q = query_params(request)
            cfg = self.cfg(request)
            req = AuthorizeRequest(
                q.get("client_key"), q.get("redirect_uri"), q.get("response_type"), q.get("scope"), q.get("state")
            )
            known = req.client_id == cfg.client_id
            return await authorize(
                request, self, req, POLICY, redirect_ok=redirect_glob_match(cfg.redirect_uris) if known else None
            )

        @router.post("/v2/oauth/token/", name="token")
        async def token(request: Request) -> Response:
            params = await body_params(request)
            if params is None:
                raise OAuthFailure("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            cfg = self.cfg(request)
            state = self.ctx(request).state
            client = self._form_client(request, params.get("client_key"), params.get("client_secret"))
            grant = params.get("grant_type")
            if grant == "authorization_code":
                code = await redeem_code(
                    request,
                    self,
                    code=params.get("code"),
                    client_id=client,
                    redirect_uri=params.get("redirect_uri"),
                    verifier=params.get("code_verifier"),
                )
                scope, family = code.scope, f"code:{code.code}"
            elif grant == "refresh_token":
                # Rotating: the answer carries a new refresh token and the old one stops working.
                old, reason = await state.use_refresh(
                    params.get("refresh_token") or "", rotate=True, reuse_revokes_family=False
                )
                if old is None or old.client_id != client:
                    raise OAuthFailure("invalid_grant", f"Refresh token is invalid or expired ({reason}).")
                scope, family = old.scope, old.family
            else:
                raise OAuthFailure("unsupported_grant_type", f"grant_type {grant!r} is not supported")
            access, refresh = await issue(
                request,
                self,
                client_id=client,
                user_id=cfg.user.id,
                scope=scope,
                family=family,
                access_ttl_s=cfg.access_ttl_s,
                refresh=True,
                refresh_ttl_s=cfg.refresh_ttl_s,
            )
            if refresh is None:  # refresh=True always mints one; this narrows the type
                raise OAuthFailure("server_error", "no refresh token minted", 500)
            now = state.now()
            return JSONResponse(
                {
                    "access_token": access.value,
                    "expires_in": seconds_left(access, now),
                    "open_id": cfg.user.id,
                    "refresh_expires_in": seconds_left(refresh, now),
                    "refresh_token": refresh.value,
                    "scope": ",".join(scope.split()),
                    "token_type": "Bearer",
                }
            )

        @router.post("/v2/oauth/revoke/", name="revoke")
        async def revoke(request: Request) -> Response:
            params = await body_params(request)
            if params is None:
                raise OAuthFailure("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            self._form_client(request, params.get("client_key"), params.get("client_secret"))
            await self.ctx(request).state.revoke_token(params.get("token") or "", family=True)
            return Response(status_code=200)

        @router.get("/v2/user/info/", name="profile")
        async def user_info(request: Request) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            if "user.info.basic" not in token.scope.split():
                raise PlatformError(api_error(401, "scope_not_authorized", "The user did not authorize the scope."))
            raw = request.query_params.get("fields")
            if not raw:
                raise PlatformError(api_error(400, "invalid_params", "fields is required"))
            user = self.cfg(request).user
            source = {
                "open_id": user.id,
                "union_id": f"union-{user.id}",
                "avatar_url": user.picture,
                "display_name": user.name,
                "username": user.handle,
            }
            fields = [f.strip() for f in raw.split(",")]
            data = {"user": {f: source[f] for f in fields if f in source}}
            return api_error(200, "ok", "", data)

        return router
