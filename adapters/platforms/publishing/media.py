"""Fetching a post's media file for the platforms that take bytes (X, LinkedIn, Bluesky, TikTok video, Mastodon).

Through the account's proxy like every other call, so the media host sees the same address as the platform. A
refusal by the media host (404, 403, ...) is a content problem: the post cannot be made from that URL and retrying
will not help. Its 5xx, a timeout, a proxy failure stay Transient through the shared mapping."""

from __future__ import annotations

import mimetypes
from typing import Any

import httpx

from adapters.platforms.base import DEFAULT_TIMEOUT_S, Classifier, send
from domain.channels.connectors import ConnectorError, InvalidContent, ProxySpec
from domain.identity.platforms import Platform
from domain.publishing.publisher import MediaKind

_DEFAULT_TYPE: dict[str, str] = {"image": "image/jpeg", "gif": "image/gif", "video": "video/mp4"}


def _refusal(platform: Platform) -> Classifier:
    def classify(response: httpx.Response, body: dict[str, Any], message: str) -> ConnectorError | None:
        # 407 is our proxy refusing us, 408/429 the host asking for patience: those are not about the media.
        if 400 <= response.status_code < 500 and response.status_code not in (407, 408, 429):
            return InvalidContent(f"{platform.value}: media could not be fetched ({response.status_code})")
        return None

    return classify


async def fetch_media(
    platform: Platform,
    url: str,
    proxy: ProxySpec | None,
    *,
    kind: MediaKind = "image",
    max_bytes: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109 - handed to send, which bounds every socket step
) -> tuple[bytes, str]:
    """The file's bytes and media type (from the host's header, else the URL's extension, else the kind's usual
    type)."""
    response = await send(platform, "GET", url, proxy=proxy, timeout=timeout, classify=_refusal(platform))
    if max_bytes is not None and len(response.content) > max_bytes:
        raise InvalidContent(f"{platform.value}: {kind} is larger than {max_bytes} bytes")
    mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not mime or mime == "application/octet-stream":
        mime = mimetypes.guess_type(httpx.URL(url).path)[0] or _DEFAULT_TYPE[kind]
    return response.content, mime
