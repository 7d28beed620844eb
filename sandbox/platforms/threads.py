"""Threads API (graph.threads.net): same flow as Instagram Login with th_* grants."""

from __future__ import annotations

from typing import Any

from sandbox.config import PlatformConfig
from sandbox.oauth import AuthorizePolicy
from sandbox.platforms.meta_login import MetaLogin
from sandbox.state import Token

SCOPES = frozenset(
    {
        "threads_basic",
        "threads_content_publish",
        "threads_manage_insights",
        "threads_manage_replies",
        "threads_read_replies",
    }
)


class Threads(MetaLogin):
    name = "threads"
    usage_type = "threads"
    policy = AuthorizePolicy(allowed_scopes=SCOPES, scope_sep=",")
    exchange_grant = "th_exchange_token"
    refresh_grant = "th_refresh_token"

    def profile_source(self, cfg: PlatformConfig, token: Token) -> dict[str, Any]:
        user = cfg.user
        return {
            "id": user.id,
            "username": user.handle,
            "name": user.name,
            "threads_profile_picture_url": user.picture,
            "threads_biography": "",
        }
