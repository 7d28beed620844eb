"""LinkedIn: 3-legged OAuth without PKCE, secrets in the form body, refresh tokens that are NOT rotated and whose
365-day lifetime is not extended by refreshing; OpenID userinfo; 401 bodies carry `serviceErrorCode`."""

from __future__ import annotations

import jwt
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
    jwt_key,
    redeem_code,
    redirect_glob_match,
    seconds_left,
)
from sandbox.params import body_params, query_params
from sandbox.platforms.base import AuthProblem, Platform

SCOPES = frozenset(
    {
        "openid",
        "profile",
        "email",
        "w_member_social",
        "w_organization_social",
        "r_organization_social",
        "rw_organization_admin",
    }
)
POLICY = AuthorizePolicy(allowed_scopes=SCOPES)

_AUTH_ERRORS: dict[AuthProblem, tuple[int, str, str]] = {
    "missing": (65604, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token"),
    "invalid": (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    "expired": (65600, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
    "revoked": (65601, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user"),
}


class LinkedIn(Platform):
    name = "linkedin"

    def rate_limited(self, retry_after_s: int, now: float) -> Response:
        # LinkedIn sends no rate-limit headers; quotas reset at midnight UTC.
        message = "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
        return JSONResponse({"status": 429, "message": message}, status_code=429)

    def auth_error(self, problem: AuthProblem) -> Response:
        code, label, message = _AUTH_ERRORS[problem]
        body = {"status": 401, "serviceErrorCode": code, "code": label, "message": message}
        return JSONResponse(body, status_code=401)

    def server_error(self, status: int) -> Response:
        return JSONResponse({"status": status, "message": "Internal Server Error"}, status_code=status)

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/oauth/v2/authorization", name="authorize")
        async def authorize_(request: Request) -> Response:
            q = query_params(request)
            cfg = self.cfg(request)
            req = AuthorizeRequest(
                q.get("client_id"), q.get("redirect_uri"), q.get("response_type"), q.get("scope"), q.get("state")
            )
            known = req.client_id == cfg.client_id
            return await authorize(
                request, self, req, POLICY, redirect_ok=redirect_glob_match(cfg.redirect_uris) if known else None
            )

        @router.post("/oauth/v2/accessToken", name="token")
        async def token(request: Request) -> Response:
            params = await body_params(request)
            if params is None:
                raise OAuthFailure("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            cfg = self.cfg(request)
            state = self.ctx(request).state
            client_id = check_client_secret(
                params.get("client_id"), params.get("client_secret"), (cfg.client_id, cfg.client_secret)
            )
            grant = params.get("grant_type")
            if grant == "authorization_code":
                code = await redeem_code(
                    request,
                    self,
                    code=params.get("code"),
                    client_id=client_id,
                    redirect_uri=params.get("redirect_uri"),
                    verifier=None,
                )
                access, refresh = await issue(
                    request,
                    self,
                    client_id=client_id,
                    user_id=cfg.user.id,
                    scope=code.scope,
                    family=f"code:{code.code}",
                    access_ttl_s=cfg.access_ttl_s,
                    refresh=cfg.issue_refresh_token,
                    refresh_ttl_s=cfg.refresh_ttl_s,
                )
            elif grant == "refresh_token":
                old, reason = await state.use_refresh(
                    params.get("refresh_token") or "", rotate=False, reuse_revokes_family=False
                )
                if old is None or old.client_id != client_id:
                    raise OAuthFailure("invalid_request", f"The provided refresh token is invalid ({reason})")
                access, _ = await issue(
                    request,
                    self,
                    client_id=client_id,
                    user_id=old.user_id,
                    scope=old.scope,
                    family=old.family,
                    access_ttl_s=cfg.access_ttl_s,
                    refresh=False,
                )
                refresh = old  # not rotated, and its expiry does not slide
            else:
                raise OAuthFailure("unsupported_grant_type", f"grant_type {grant!r} is not supported")
            now = state.now()
            body: dict[str, object] = {
                "access_token": access.value,
                "expires_in": seconds_left(access, now),
                # LinkedIn lists granted scopes comma-separated in the token response.
                "scope": ",".join(access.scope.split()),
                "token_type": "Bearer",
            }
            if refresh is not None:
                body["refresh_token"] = refresh.value
                body["refresh_token_expires_in"] = seconds_left(refresh, now)
            if "openid" in access.scope.split():
                user = cfg.user
                claims = {
                    "iss": "https://www.linkedin.com/oauth",
                    "aud": client_id,
                    "sub": user.id,
                    "name": user.name,
                    "picture": user.picture,
                    "iat": int(now),
                    "exp": int(now) + 3600,
                }
                # Real id_tokens are RS256; HS256 with the client secret lets tests verify without a JWKS.
                body["id_token"] = jwt.encode(claims, jwt_key(cfg.client_secret), algorithm="HS256")
            return JSONResponse(body)

        @router.post("/oauth/v2/revoke", name="revoke")
        async def revoke(request: Request) -> Response:
            params = await body_params(request)
            if params is None:
                raise OAuthFailure("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
            cfg = self.cfg(request)
            check_client_secret(
                params.get("client_id"), params.get("client_secret"), (cfg.client_id, cfg.client_secret)
            )
            await self.ctx(request).state.revoke_token(params.get("token") or "", family=True)
            return Response(status_code=200)

        @router.get("/v2/userinfo", name="profile")
        async def userinfo(request: Request) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            user = self.cfg(request).user
            given, _, family = user.name.partition(" ")
            body: dict[str, object] = {
                "sub": user.id,
                "name": user.name,
                "given_name": given,
                "family_name": family,
                "picture": user.picture,
                "locale": {"country": "US", "language": "en"},
            }
            if "email" in token.scope.split():
                body.update(email=user.email, email_verified=True)
            return JSONResponse(body)

        return router
