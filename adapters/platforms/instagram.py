"""Instagram API with Instagram Login (business/creator accounts): ig_exchange_token / ig_refresh_token."""

from __future__ import annotations

from typing import Any

from adapters.platforms.base import require_str
from adapters.platforms.meta_login import MetaLoginConnector
from domain.identity.platforms import Platform


class InstagramConnector(MetaLoginConnector):
    platform = Platform.INSTAGRAM
    exchange_grant = "ig_exchange_token"
    refresh_grant = "ig_refresh_token"
    profile_fields = "user_id,username,name,profile_picture_url"
    picture_field = "profile_picture_url"

    def _id(self, data: dict[str, Any]) -> str:
        # user_id is the professional account id that /{ig-user}/media needs; `id` is app-scoped.
        return str(data.get("user_id") or require_str(self.platform, data, "id"))
