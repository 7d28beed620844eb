"""What Facebook Pages and Instagram publishing share: both speak Meta's Graph API (`{api_base}/{version}/...`, a
bearer token, `{"error": {"code", "error_subcode"}}` refusals, cursor paging), and differ only in which codes mean
what. Threads speaks it too but on its own host and with its own read/write split, so it keeps its own calls."""

from __future__ import annotations

from typing import Any

import httpx

from adapters.platforms.base import DEFAULT_TIMEOUT_S, Classifier, bearer, json_body, send
from adapters.platforms.config import PlatformEndpoints
from domain.channels.connectors import ProxySpec
from domain.identity.platforms import Platform
from domain.publishing.publisher import PublishingChannel

# Code 100 with this subcode is "object does not exist": a lookup miss, not refused content.
UNKNOWN_OBJECT_SUBCODE = 33


class GraphPublisher:
    """The Graph calls of a publisher; `classify` maps the platform's own refusal codes (see `error_codes`)."""

    platform: Platform
    # How long the creating call may take before its outcome counts as unknown (Unconfirmed, never blind-retried).
    create_timeout_s = DEFAULT_TIMEOUT_S

    def __init__(self, endpoints: PlatformEndpoints, classify: Classifier) -> None:
        self.e = endpoints
        self._classify = classify

    @property
    def _graph(self) -> str:
        return f"{self.e.api_base}/{self.e.graph_version}"

    async def _post(
        self,
        path: str,
        channel: PublishingChannel,
        form: dict[str, str],
        proxy: ProxySpec | None,
        *,
        unsafe: bool = False,
    ) -> dict[str, Any]:
        response = await send(
            self.platform,
            "POST",
            f"{self._graph}{path}",
            proxy=proxy,
            unsafe=unsafe,
            timeout=self.create_timeout_s if unsafe else DEFAULT_TIMEOUT_S,
            classify=self._classify,
            data=form,
            headers=bearer(channel.access_token),  # header, not ?access_token=, so the token stays out of URLs
        )
        return json_body(self.platform, response)

    async def _get(
        self, path: str, channel: PublishingChannel, params: dict[str, str], proxy: ProxySpec | None
    ) -> httpx.Response:
        return await send(
            self.platform,
            "GET",
            f"{self._graph}{path}",
            proxy=proxy,
            params=params,
            headers=bearer(channel.access_token),
        )

    async def _listing(
        self, path: str, channel: PublishingChannel, params: dict[str, str], proxy: ProxySpec | None, pages: int
    ) -> list[dict[str, Any]] | None:
        """Every entry of a cursor-paged edge, oldest page last; None when it runs past `pages` pages."""
        entries: list[dict[str, Any]] = []
        params = dict(params)
        for _ in range(pages):
            body = json_body(self.platform, await self._get(path, channel, params, proxy))
            entries += [e for e in body.get("data") or [] if isinstance(e, dict)]
            paging = body.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after:
                return entries
            params["after"] = str(after)
        return None


def error_codes(body: dict[str, Any]) -> tuple[int | None, int | None]:
    """The refusal's Graph `code` and `error_subcode`, when the body carries them."""
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    return opt_int(error.get("code")), opt_int(error.get("error_subcode"))


def opt_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else None
