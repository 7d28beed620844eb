"""Instagram API with Instagram Login (business/creator accounts)."""

from __future__ import annotations

from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse

from sandbox.config import PlatformConfig
from sandbox.oauth import AuthorizePolicy, OAuthFailure
from sandbox.platforms.meta_login import MetaLogin
from sandbox.state import Token

SCOPES = frozenset(
    {
        "instagram_business_basic",
        "instagram_business_content_publish",
        "instagram_business_manage_comments",
        "instagram_business_manage_messages",
        "instagram_business_manage_insights",
    }
)


class Instagram(MetaLogin):
    name = "instagram"
    usage_type = "instagram"
    # Instagram appends "#_" to the redirect; clients must strip it (it sits in the fragment, not the code).
    policy = AuthorizePolicy(allowed_scopes=SCOPES, scope_sep=",", fragment="#_")
    exchange_grant = "ig_exchange_token"
    refresh_grant = "ig_refresh_token"

    def code_exchange_error(self, exc: OAuthFailure) -> Response:
        # api.instagram.com/oauth/access_token keeps the legacy Instagram error shape, not Graph's.
        return JSONResponse({"error_type": "OAuthException", "code": 400, "error_message": exc.description}, 400)

    def code_response(self, access: Token, scope: str) -> dict[str, Any]:
        return {"access_token": access.value, "user_id": access.user_id, "permissions": ",".join(scope.split())}

    def profile_source(self, cfg: PlatformConfig, token: Token) -> dict[str, Any]:
        user = cfg.user
        return {
            "id": user.id,
            "user_id": user.id,
            "username": user.handle,
            "name": user.name,
            "profile_picture_url": user.picture,
            "account_type": "BUSINESS",
        }
