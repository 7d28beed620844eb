"""Facebook Login + Pages: `/{ver}/dialog/oauth`, `GET /{ver}/oauth/access_token` (code, or fb_exchange_token for a
~60 d user token), no refresh tokens, page tokens from `/me/accounts` that never expire."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request, Response
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
from sandbox.params import query_params
from sandbox.platforms.graph import VERSION_PATTERN, GraphPlatform, requested_fields

SCOPES = frozenset(
    {
        "public_profile",
        "email",
        "pages_show_list",
        "pages_manage_posts",
        "pages_read_engagement",
        "pages_manage_metadata",
        "read_insights",
        "business_management",
    }
)
POLICY = AuthorizePolicy(allowed_scopes=SCOPES, scope_sep=",")
Version = Path(pattern=VERSION_PATTERN)


class Facebook(GraphPlatform):
    name = "facebook"

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.get("/{ver}/dialog/oauth", name="authorize")
        async def dialog(request: Request, ver: str = Version) -> Response:
            q = query_params(request)
            cfg = self.cfg(request)
            req = AuthorizeRequest(
                q.get("client_id"),
                q.get("redirect_uri"),
                q.get("response_type") or "code",
                q.get("scope"),
                q.get("state"),
            )
            known = req.client_id == cfg.client_id
            return await authorize(
                request, self, req, POLICY, redirect_ok=redirect_glob_match(cfg.redirect_uris) if known else None
            )

        @router.get("/{ver}/oauth/access_token", name="token")
        async def access_token(request: Request, ver: str = Version) -> Response:
            q = query_params(request)
            cfg = self.cfg(request)
            client_id = check_client_secret(
                q.get("client_id"), q.get("client_secret"), (cfg.client_id, cfg.client_secret)
            )
            if q.get("grant_type") == "fb_exchange_token":
                return await self.exchange_long_lived(request, q.get("fb_exchange_token"))
            if q.get("grant_type") not in (None, "authorization_code"):
                raise OAuthFailure("unsupported_grant_type", f"Unsupported grant_type {q.get('grant_type')!r}")
            code = await redeem_code(
                request,
                self,
                code=q.get("code"),
                client_id=client_id,
                redirect_uri=q.get("redirect_uri"),
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
            now = self.ctx(request).state.now()
            return JSONResponse(
                {"access_token": access.value, "token_type": "bearer", "expires_in": seconds_left(access, now)}
            )

        @router.get("/{ver}/me", name="profile")
        async def me(request: Request, ver: str = Version) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            cfg = self.cfg(request)
            # A page token answers /me as the page.
            page = next((p for p in cfg.pages if p.id == token.extra.get("page_id")), None)
            source: dict[str, Any] = (
                {"id": page.id, "name": page.name, "category": page.category}
                if page
                else {"id": cfg.user.id, "name": cfg.user.name, "email": cfg.user.email}
            )
            source["picture"] = {"data": {"height": 50, "width": 50, "is_silhouette": False, "url": cfg.user.picture}}
            fields = requested_fields(request, ("id", "name"))
            return JSONResponse({f: source[f] for f in fields if f in source})

        @router.get("/{ver}/me/accounts", name="accounts")
        async def accounts(request: Request, ver: str = Version) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            cfg = self.cfg(request)
            data = []
            for page in cfg.pages:
                # Page tokens derived from a long-lived user token do not expire; they die with the user grant.
                page_token, _ = await issue(
                    request,
                    self,
                    client_id=token.client_id,
                    user_id=token.user_id,
                    scope=token.scope,
                    family=token.family,
                    access_ttl_s=None,
                    refresh=False,
                    prefix="page_",
                )
                page_token.extra["page_id"] = page.id
                data.append(
                    {
                        "access_token": page_token.value,
                        "category": page.category,
                        "id": page.id,
                        "name": page.name,
                        "tasks": ["ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"],
                    }
                )
            return JSONResponse({"data": data, "paging": {"cursors": {"before": "MA==", "after": "MA=="}}})

        @router.delete("/{ver}/me/permissions", name="revoke")
        async def deauthorize(request: Request, ver: str = Version) -> Response:
            token = await authenticate(request, self, self.bearer(request))
            await self.ctx(request).state.revoke_token(token.value, family=True)
            return JSONResponse({"success": True})

        return router
