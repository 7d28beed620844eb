"""Instagram Login and Threads share one flow: authorize (comma scopes) → `POST /oauth/access_token` (form, 1 h
token) → `GET /access_token?grant_type={ig|th}_exchange_token` (60 d) → `GET /refresh_access_token`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from sandbox.config import PlatformConfig
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
)
from sandbox.params import body_params, query_params
from sandbox.platforms.graph import VERSION_PATTERN, GraphPlatform, requested_fields
from sandbox.state import Token


class MetaLogin(GraphPlatform):
    policy: AuthorizePolicy
    exchange_grant: str
    refresh_grant: str
    profile_default_fields: tuple[str, ...] = ("id",)

    def profile_source(self, cfg: PlatformConfig, token: Token) -> dict[str, Any]:
        raise NotImplementedError

    def code_response(self, access: Token, scope: str) -> dict[str, Any]:
        return {"access_token": access.value, "user_id": access.user_id}

    def code_exchange_error(self, exc: OAuthFailure) -> Response:
        return self.token_error(exc.error, exc.description, exc.status)

    async def _redeem(self, request: Request) -> Response:
        params = await body_params(request)
        if params is None:
            raise OAuthFailure("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        cfg = self.cfg(request)
        client_id = check_client_secret(
            params.get("client_id"), params.get("client_secret"), (cfg.client_id, cfg.client_secret)
        )
        if params.get("grant_type") != "authorization_code":
            raise OAuthFailure("unsupported_grant_type", "grant_type must be authorization_code")
        code = await redeem_code(
            request,
            self,
            code=params.get("code"),
            client_id=client_id,
            redirect_uri=params.get("redirect_uri"),
            verifier=None,
        )
        access, _ = await issue(
            request,
            self,
            client_id=client_id,
            user_id=cfg.user.id,
            scope=code.scope,
            family=f"code:{code.code}",
            access_ttl_s=cfg.access_ttl_s,
            refresh=False,
        )
        # The short-lived answer carries no expires_in on the real API either (it is 1 h).
        return JSONResponse(self.code_response(access, code.scope))

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/oauth/authorize", name="authorize")
        async def authorize_(request: Request) -> Response:
            q = query_params(request)
            cfg = self.cfg(request)
            req = AuthorizeRequest(
                q.get("client_id"), q.get("redirect_uri"), q.get("response_type"), q.get("scope"), q.get("state")
            )
            known = req.client_id == cfg.client_id
            return await authorize(
                request, self, req, self.policy, redirect_ok=redirect_glob_match(cfg.redirect_uris) if known else None
            )

        @router.post("/oauth/access_token", name="token")
        async def access_token(request: Request) -> Response:
            try:
                return await self._redeem(request)
            except OAuthFailure as exc:
                return self.code_exchange_error(exc)

        @router.get("/access_token", name="exchange_token")
        async def exchange(request: Request) -> Response:
            q = query_params(request)
            cfg = self.cfg(request)
            if q.get("grant_type") != self.exchange_grant:
                raise OAuthFailure("unsupported_grant_type", f"grant_type must be {self.exchange_grant}")
            if q.get("client_secret") != cfg.client_secret:
                raise OAuthFailure("invalid_client", "Error validating client secret.")
            return await self.exchange_long_lived(request, q.get("access_token"))

        @router.get("/refresh_access_token", name="refresh")
        async def refresh(request: Request) -> Response:
            q = query_params(request)
            if q.get("grant_type") != self.refresh_grant:
                raise OAuthFailure("unsupported_grant_type", f"grant_type must be {self.refresh_grant}")
            return await self.refresh_long_lived(request, q.get("access_token"))

        async def me(request: Request) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            source = self.profile_source(self.cfg(request), token)
            fields = requested_fields(request, self.profile_default_fields)
            return JSONResponse({f: source[f] for f in fields if f in source})

        async def me_versioned(request: Request, ver: str = Path(pattern=VERSION_PATTERN)) -> Response:
            return await me(request)

        router.add_api_route("/me", me, methods=["GET"], name="profile")
        router.add_api_route("/{ver}/me", me_versioned, methods=["GET"], name="profile")
        return router
