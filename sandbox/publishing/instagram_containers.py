"""Instagram media containers: what `POST /{ig-user}/media` creates and `media_publish` turns into a post.

A container is IN_PROGRESS while Instagram "fetches and processes" its media (a short delay here), then FINISHED;
ERROR when the media cannot be used (Instagram takes JPEG images only), EXPIRED 24 hours after creation, PUBLISHED
once `media_publish` made a post from it. A carousel container is FINISHED only when all its children are."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.platforms.base import PlatformError
from sandbox.platforms.graph import graph_error
from sandbox.publishing.facebook_graph import is_true, sample_media, utf16_length
from sandbox.state import SandboxState

PROCESSING_S = 0.2  # images; videos take twice as long
EXPIRY_S = 24 * 3600
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_CHILDREN = 10
_HASHTAG = re.compile(r"#\w+")
STATUS_TEXT = {
    "IN_PROGRESS": "In Progress: Media is still being processed.",
    "FINISHED": "Finished: Media has been uploaded and it is ready to be published.",
    "PUBLISHED": "Published: Media has been successfully published.",
    "EXPIRED": "Expired: The media was not published within 24 hours.",
}


@dataclass
class Container:
    id: str
    user_id: str
    media_type: str  # IMAGE, VIDEO (carousel items), REELS, CAROUSEL
    caption: str
    created_at: float
    ready_at: float
    is_carousel_item: bool = False
    children: list[str] = field(default_factory=list)
    alt_text: str | None = None
    error: str | None = None  # the `status` text of an ERROR container
    media_id: str | None = None  # the post media_publish made from it

    def status_code(self, now: float) -> str:
        if self.media_id is not None:
            return "PUBLISHED"
        if self.error is not None:
            return "ERROR"
        if now >= self.created_at + EXPIRY_S:
            return "EXPIRED"
        return "IN_PROGRESS" if now < self.ready_at else "FINISHED"

    def status(self, now: float) -> str:
        code = self.status_code(now)
        return self.error if code == "ERROR" and self.error else STATUS_TEXT[code]


def containers(state: SandboxState) -> dict[str, Container]:
    found: dict[str, Container] = state.extra.setdefault("instagram.containers", {})
    return found


def invalid(message: str, code: int = 100, subcode: int | None = None, **extra: Any) -> PlatformError:
    return PlatformError(graph_error(400, message, code, subcode, **extra))


def _fetch_failed() -> PlatformError:
    return invalid(
        "The media could not be fetched from this URI",
        9004,
        2207052,
        is_transient=False,
        error_user_title="Media download has failed",
        error_user_msg="The media could not be fetched from this URI. Check that the URI is public.",
    )


def check_caption(caption: str) -> None:
    if utf16_length(caption) > MAX_CAPTION:
        raise invalid(f"(#100) Param caption must be at most {MAX_CAPTION} characters long")
    if len(_HASHTAG.findall(caption)) > MAX_HASHTAGS:
        raise invalid(f"(#100) The caption may contain at most {MAX_HASHTAGS} hashtags")


def build(state: SandboxState, container_id: str, user_id: str, params: dict[str, Any]) -> Container:
    """A new container from the creation parameters, or the Graph error Instagram answers with."""
    now = state.now()
    item = is_true(params.get("is_carousel_item"))
    media_type = str(params.get("media_type") or ("VIDEO" if params.get("video_url") else "IMAGE")).upper()
    caption = "" if item else str(params.get("caption") or "")
    check_caption(caption)
    base = Container(container_id, user_id, media_type, caption, now, now + PROCESSING_S, is_carousel_item=item)
    if media_type == "CAROUSEL":
        return _carousel(state, base, params.get("children"))
    if media_type in ("VIDEO", "REELS"):
        if media_type == "VIDEO" and not item:
            raise invalid("(#100) The media type VIDEO is only supported for carousel items; use REELS")
        fetched = sample_media(params.get("video_url"))
        if fetched is None or not fetched[1].startswith("video/"):
            raise _fetch_failed()
        base.ready_at = now + 2 * PROCESSING_S
        return base
    if media_type != "IMAGE":
        raise invalid(f"(#100) Unsupported media_type {media_type}", 100, 2207023)
    if not params.get("image_url"):
        raise invalid("(#100) The parameter image_url is required.")
    fetched = sample_media(params.get("image_url"))
    if fetched is None or not fetched[1].startswith("image/"):
        raise _fetch_failed()
    if fetched[1] != "image/jpeg":
        base.error = "Error: Media upload has failed: only JPEG images are supported."
    base.alt_text = str(params["alt_text"]) if params.get("alt_text") else None
    return base


def _carousel(state: SandboxState, parent: Container, children: object) -> Container:
    ids = children if isinstance(children, list) else str(children or "").split(",")
    ids = [str(i).strip() for i in ids if str(i).strip()]
    if not 2 <= len(ids) <= MAX_CHILDREN:
        raise invalid(f"(#100) A carousel needs 2 to {MAX_CHILDREN} children", 100, 2207028)
    found = containers(state)
    now = state.now()
    for child_id in ids:
        child = found.get(child_id)
        if child is None or child.user_id != parent.user_id or not child.is_carousel_item:
            raise invalid(f"(#100) Param children contains an invalid carousel item {child_id}")
        if child.status_code(now) in ("ERROR", "EXPIRED", "PUBLISHED"):
            parent.error = f"Error: carousel item {child_id} is {child.status_code(now)}"
        parent.ready_at = max(parent.ready_at, child.ready_at)
    parent.children = ids
    return parent
