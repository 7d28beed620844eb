"""X API v2: OAuth 2.0 with required PKCE, Basic client auth for confidential clients, single-use rotating refresh
tokens (reuse kills the family), `x-rate-limit-*` headers without Retry-After."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.config import PlatformConfig
from sandbox.oauth import (
    AuthorizePolicy,
    AuthorizeRequest,
    OAuthFailure,
    authenticate,
    authorize,
    basic_credentials,
    issue,
    redeem_code,
    redirect_glob_match,
    seconds_left,
)
from sandbox.params import Params, body_params, query_params
from sandbox.platforms.base import AuthProblem, Platform, PlatformError, epoch_in

SCOPES = frozenset(
    {
        "tweet.read",
        "tweet.write",
        "users.read",
        "offline.access",
        "media.write",
        "like.read",
        "like.write",
        "follows.read",
        "follows.write",
        "bookmark.read",
        "bookmark.write",
    }
)
POLICY = AuthorizePolicy(allowed_scopes=SCOPES, pkce="required", pkce_methods=frozenset({"S256", "plain"}))
INVALID_REFRESH_MESSAGE = "Value passed for the token was invalid."


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> JSONResponse:
    return JSONResponse({"title": title, "detail": detail, "type": kind, "status": status}, status_code=status)


class X(Platform):
    name = "x"

    def rate_limited(self, retry_after_s: int, now: float) -> Response:
        response = _problem(429, "Too Many Requests", "Too Many Requests")
        response.headers["x-rate-limit-limit"] = "100"
        response.headers["x-rate-limit-remaining"] = "0"
        response.headers["x-rate-limit-reset"] = str(epoch_in(retry_after_s, now))
        return response

    def auth_error(self, problem: AuthProblem) -> Response:
        # X does not say why a bearer token is refused: expired and revoked both answer a bare 401.
        return _problem(401, "Unauthorized", "Unauthorized")

    def server_error(self, status: int) -> Response:
        title = "Service Unavailable" if status == 503 else "Internal Server Error"
        return _problem(status, title, title)

    def _client(self, request: Request, params: Params, cfg: PlatformConfig) -> str:
        if cfg.confidential:
            creds = basic_credentials(request)
            if creds is None or creds[0] != cfg.client_id or not hmac.compare_digest(creds[1], cfg.client_secret):
                raise OAuthFailure("unauthorized_client", "Missing valid authorization header", 401)
            return cfg.client_id
        if params.get("client_id") != cfg.client_id:
            raise OAuthFailure("invalid_request", "Missing required parameter [client_id].")
        return cfg.client_id

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/i/oauth2/authorize", name="authorize")
        async def authorize_(request: Request) -> Response:
            q = query_params(request)
            cfg = self.cfg(request)
            req = AuthorizeRequest(
                q.get("client_id"),
                q.get("redirect_uri"),
                q.get("response_type"),
                q.get("scope"),
                q.get("state"),
                q.get("code_challenge"),
                q.get("code_challenge_method"),
            )
            known = req.client_id == cfg.client_id
            return await authorize(
                request, self, req, POLICY, redirect_ok=redirect_glob_match(cfg.redirect_uris) if known else None
            )

        @router.post("/2/oauth2/token", name="token")
        async def token(request: Request) -> Response:
            params = await body_params(request)
            if params is None:
                raise OAuthFailure("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            cfg = self.cfg(request)
            client_id = self._client(request, params, cfg)
            grant = params.get("grant_type")
            state = self.ctx(request).state
            if grant == "authorization_code":
                code = await redeem_code(
                    request,
                    self,
                    code=params.get("code"),
                    client_id=client_id,
                    redirect_uri=params.get("redirect_uri"),
                    verifier=params.get("code_verifier"),
                )
                scope, family = code.scope, f"code:{code.code}"
            elif grant == "refresh_token":
                old, _ = await state.use_refresh(
                    params.get("refresh_token") or "", rotate=True, reuse_revokes_family=True
                )
                if old is None or old.client_id != client_id or old.platform != self.name:
                    raise OAuthFailure("invalid_request", INVALID_REFRESH_MESSAGE)
                scope, family = old.scope, old.family
            else:
                raise OAuthFailure("unsupported_grant_type", f"grant_type {grant!r} is not supported")
            access, refresh = await issue(
                request,
                self,
                client_id=client_id,
                user_id=cfg.user.id,
                scope=scope,
                family=family,
                access_ttl_s=cfg.access_ttl_s,
                refresh="offline.access" in scope.split(),
                refresh_ttl_s=cfg.refresh_ttl_s,
            )
            body: dict[str, object] = {
                "token_type": "bearer",
                "expires_in": seconds_left(access, state.now()),
                "access_token": access.value,
                "scope": scope,
            }
            if refresh is not None:
                body["refresh_token"] = refresh.value
            return JSONResponse(body)

        @router.post("/2/oauth2/revoke", name="revoke")
        async def revoke(request: Request) -> Response:
            params = await body_params(request)
            if params is None:
                raise OAuthFailure("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            self._client(request, params, self.cfg(request))
            # RFC 7009: unknown tokens also answer 200. Revoking either token ends the whole grant.
            await self.ctx(request).state.revoke_token(params.get("token") or "", family=True)
            return JSONResponse({"revoked": True})

        @router.get("/2/users/me", name="profile")
        async def me(request: Request) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            if "users.read" not in token.scope.split():
                raise PlatformError(
                    _problem(
                        403,
                        "Forbidden",
                        "Missing scope users.read",
                        "https://api.twitter.com/2/problems/client-forbidden",
                    )
                )
            user = self.cfg(request).user
            data = {"id": user.id, "name": user.name, "username": user.handle}
            fields = ",".join(query_params(request).getlist("user.fields")).split(",")
            # Like X, optional fields only appear when asked for in user.fields.
            if "profile_image_url" in fields:
                data["profile_image_url"] = user.picture
            return JSONResponse({"data": data})

        return router
