"""Mastodon (one instance under /mastodon): apps registered at runtime via POST /api/v1/apps, Doorkeeper OAuth with
optional PKCE S256, tokens that never expire and no refresh tokens, `X-RateLimit-*` headers with an ISO reset."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.oauth import (
    AuthorizePolicy,
    AuthorizeRequest,
    OAuthFailure,
    authenticate,
    authorize,
    basic_credentials,
    issue,
    redeem_code,
)
from sandbox.params import Params, body_params, query_params
from sandbox.platforms.base import AuthProblem, Platform, PlatformError
from sandbox.state import MastodonApp, new_secret

TOP_SCOPES = frozenset({"read", "write", "follow", "push", "profile", "admin:read", "admin:write"})
POLICY = AuthorizePolicy(allowed_scopes=frozenset(), pkce="optional")
_AUTH: dict[AuthProblem, str] = {
    "missing": "The access token is invalid",
    "invalid": "The access token is invalid",
    "expired": "The access token expired",
    "revoked": "The access token was revoked",
}


def _scope_granted(requested: list[str], granted: list[str]) -> bool:
    # Granular scopes ("write:statuses") are covered by their parent ("write").
    return all(s in granted or s.split(":")[0] in granted for s in requested)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Mastodon(Platform):
    name = "mastodon"

    def rate_limited(self, retry_after_s: int, now: float) -> Response:
        response = JSONResponse({"error": "Too many requests"}, status_code=429)
        response.headers["X-RateLimit-Limit"] = "300"
        response.headers["X-RateLimit-Remaining"] = "0"
        response.headers["X-RateLimit-Reset"] = _iso(now + retry_after_s)
        return response

    def auth_error(self, problem: AuthProblem) -> Response:
        return JSONResponse({"error": _AUTH[problem]}, status_code=401)

    def server_error(self, status: int) -> Response:
        return JSONResponse({"error": "We're sorry, but something went wrong on our end."}, status_code=status)

    def _app(self, request: Request, params: Params, *, secret_required: bool) -> MastodonApp:
        creds = basic_credentials(request)
        client_id, secret = creds if creds else (params.get("client_id"), params.get("client_secret"))
        app = self.ctx(request).state.mastodon_apps.get(client_id or "")
        ok = app is not None and (
            not secret_required or (secret is not None and hmac.compare_digest(secret, app.client_secret))
        )
        if app is None or not ok:
            raise OAuthFailure(
                "invalid_client",
                "Client authentication failed due to unknown client, no client authentication included, "
                "or unsupported authentication method.",
                401,
            )
        return app

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/api/v1/apps", name="register_app")
        async def register_app(request: Request) -> Response:
            params = await body_params(request, allow_json=True)
            if params is None:
                return JSONResponse({"error": "Unsupported Content-Type"}, status_code=415)
            name = params.get("client_name")
            uris = [u for raw in params.getlist("redirect_uris") for u in raw.split("\n") if u.strip()]
            uris += [u for u in params.getlist("redirect_uris[]") if u.strip()]
            scopes = (params.get("scopes") or "read").split()
            problems = [
                m
                for bad, m in ((not name, "Application name can't be blank"), (not uris, "Redirect URI can't be blank"))
                if bad
            ]
            if any(s.split(":")[0] not in TOP_SCOPES for s in scopes):
                problems.append("Scopes must be a valid scope")
            if problems:
                return JSONResponse({"error": "Validation failed: " + ", ".join(problems)}, status_code=422)
            app = MastodonApp(
                id=str(len(self.ctx(request).state.mastodon_apps) + 1),
                name=name or "",
                website=params.get("website"),
                redirect_uris=uris,
                scopes=scopes,
                client_id=new_secret("", 32),
                client_secret=new_secret("", 32),
            )
            await self.ctx(request).state.add_mastodon_app(app)
            return JSONResponse(
                {
                    "id": app.id,
                    "name": app.name,
                    "website": app.website,
                    "scopes": app.scopes,
                    "redirect_uri": "\n".join(uris),
                    "redirect_uris": uris,
                    "vapid_key": "sandbox-vapid-key",
                    "client_id": app.client_id,
                    "client_secret": app.client_secret,
                    "client_secret_expires_at": 0,
                }
            )

        @router.get("/oauth/authorize", name="authorize")
        async def authorize_(request: Request) -> Response:
            q = query_params(request)
            app = self.ctx(request).state.mastodon_apps.get(q.get("client_id") or "")
            req = AuthorizeRequest(
                q.get("client_id"),
                q.get("redirect_uri"),
                q.get("response_type"),
                q.get("scope") or "read",
                q.get("state"),
                q.get("code_challenge"),
                q.get("code_challenge_method"),
            )
            return await authorize(
                request,
                self,
                req,
                POLICY,
                redirect_ok=(lambda uri: uri in app.redirect_uris) if app else None,
                scope_ok=(lambda requested: _scope_granted(requested, app.scopes)) if app else None,
            )

        @router.post("/oauth/token", name="token")
        async def token(request: Request) -> Response:
            params = await body_params(request, allow_json=True)
            if params is None:
                raise OAuthFailure("invalid_request", "Unsupported Content-Type")
            app = self._app(request, params, secret_required=True)
            cfg = self.cfg(request)
            grant = params.get("grant_type")
            if grant == "authorization_code":
                code = await redeem_code(
                    request,
                    self,
                    code=params.get("code"),
                    client_id=app.client_id,
                    redirect_uri=params.get("redirect_uri"),
                    verifier=params.get("code_verifier"),
                )
                scope, family, user_id = code.scope, f"code:{code.code}", cfg.user.id
            elif grant == "client_credentials":
                scope, family, user_id = params.get("scope") or "read", f"app:{app.client_id}", ""
            else:
                raise OAuthFailure("unsupported_grant_type", "The authorization grant type is not supported.")
            access, _ = await issue(
                request,
                self,
                client_id=app.client_id,
                user_id=user_id,
                scope=scope,
                family=family,
                access_ttl_s=cfg.access_ttl_s,
                refresh=False,
            )
            body: dict[str, object] = {
                "access_token": access.value,
                "token_type": "Bearer",
                "scope": scope,
                "created_at": int(access.issued_at),
            }
            if access.expires_at is not None:  # only when a test configures a lifetime
                body["expires_in"] = max(0, int(access.expires_at - access.issued_at))
            return JSONResponse(body)

        @router.post("/oauth/revoke", name="revoke")
        async def revoke(request: Request) -> Response:
            params = await body_params(request, allow_json=True)
            if params is None:
                raise OAuthFailure("invalid_request", "Unsupported Content-Type")
            app = self._app(request, params, secret_required=True)
            state = self.ctx(request).state
            found = state.get_token(params.get("token") or "")
            if found is not None and found.client_id != app.client_id:
                raise OAuthFailure("unauthorized_client", "You are not authorized to revoke this token", 403)
            await state.revoke_token(params.get("token") or "")
            return JSONResponse({})

        @router.get("/api/v1/accounts/verify_credentials", name="profile")
        async def verify_credentials(request: Request) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            if not token.user_id:
                raise PlatformError(JSONResponse({"error": "This method requires an authenticated user"}, 422))
            if not _scope_granted(["read:accounts"], token.scope.split()) and "profile" not in token.scope.split():
                raise PlatformError(JSONResponse({"error": "This action is outside the authorized scopes"}, 403))
            user = self.cfg(request).user
            base = str(request.base_url).rstrip("/")
            return JSONResponse(
                {
                    "id": user.id,
                    "username": user.handle,
                    "acct": user.handle,
                    "display_name": user.name,
                    "locked": False,
                    "bot": False,
                    "created_at": "2024-01-01T00:00:00.000Z",
                    "note": "",
                    "url": f"{base}/@{user.handle}",
                    "avatar": user.picture,
                    "avatar_static": user.picture,
                    "header": "",
                    "followers_count": 0,
                    "following_count": 0,
                    "statuses_count": 0,
                    "source": {"privacy": "public", "sensitive": False, "language": "en", "note": "", "fields": []},
                }
            )

        return router
