"""Shared machinery of the publishing side: storing posts and media, duplicate detection (natural and injected),
deterministic metrics, and sample media files the tests point posts at.

Each platform's publishing routes (registered with sandbox.registry.register_routes) use these so that every
platform keeps its posts in one place, which the control API lists (`GET /_sandbox/posts`) for exactly-once checks."""

from __future__ import annotations

import base64
import itertools
import zlib
from collections.abc import Callable

from fastapi import Request

from sandbox.context import context
from sandbox.faults import take_fault
from sandbox.state import SandboxMedia, SandboxPost, SandboxState

DUPLICATE_KINDS: frozenset[str] = frozenset({"duplicate"})
_ids = itertools.count(1_000_000)

# A 1x1 PNG and a minimal JPEG: real image files, so a client that checks magic bytes is satisfied.
SAMPLE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SAMPLE_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAP//////////////////////////////////////////////////////////////////////////"
    "////////////wgALCAABAAEBAREA/8QAFBABAAAAAAAAAAAAAAAAAAAAAP/aAAgBAQABPxA="
)
# Not a playable video: an MP4 `ftyp` box followed by filler, enough for upload flows that only move bytes.
SAMPLE_MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64 * 1024)
SAMPLE_MEDIA: dict[str, tuple[bytes, str]] = {
    "sample.png": (SAMPLE_PNG, "image/png"),
    "sample.jpg": (SAMPLE_JPEG, "image/jpeg"),
    "sample.mp4": (SAMPLE_MP4, "video/mp4"),
}


def next_id() -> str:
    """A numeric-looking id, unique within the process (platform ids are mostly numeric strings)."""
    return str(next(_ids))


def peer_host(request: Request) -> str | None:
    return request.client.host if request.client else None


def state_of(request: Request) -> SandboxState:
    return context(request).state


def injected_duplicate(request: Request, platform: str) -> bool:
    """Consume a `duplicate` fault matching this request, if one is queued."""
    route = request.scope.get("route")
    fault = take_fault(
        state_of(request).faults, platform, getattr(route, "name", None), request.url.path, DUPLICATE_KINDS
    )
    return fault is not None


def same_text_post(state: SandboxState, platform: str, user_id: str, text: str) -> SandboxPost | None:
    """An earlier live post of this user with exactly this text: what X and LinkedIn refuse as a duplicate."""
    for post in reversed(state.posts):
        if post.platform == platform and post.user_id == user_id and not post.deleted and post.text == text:
            return post
    return None


async def add_post(state: SandboxState, post: SandboxPost) -> SandboxPost:
    async with state.lock:
        state.posts.append(post)
    return post


async def create_post_once(
    state: SandboxState, platform: str, key: str, make: Callable[[], SandboxPost]
) -> tuple[SandboxPost, bool]:
    """The post already made under this idempotency key, or a new one: (post, created). Check and insert happen
    under the lock, so two concurrent requests with the same key make one post."""
    async with state.lock:
        for post in state.posts:
            if post.platform == platform and post.key == key:
                return post, False
        post = make()
        post.key = key
        state.posts.append(post)
        return post, True


def posts_of(state: SandboxState, platform: str, user_id: str, *, since: float | None = None) -> list[SandboxPost]:
    return [
        p
        for p in state.posts
        if p.platform == platform
        and p.user_id == user_id
        and not p.deleted
        and (since is None or p.created_at >= since)
    ]


def find_post(state: SandboxState, platform: str, post_id: str) -> SandboxPost | None:
    for post in state.posts:
        if post.platform == platform and post.id == post_id and not post.deleted:
            return post
    return None


async def add_media(state: SandboxState, media: SandboxMedia) -> SandboxMedia:
    async with state.lock:
        state.media[media.id] = media
    return media


def metrics_for(post: SandboxPost, now: float) -> dict[str, int]:
    """Counters that grow with the post's age and differ between posts, the same on every read at the same time."""
    seed = zlib.crc32(f"{post.platform}:{post.id}".encode())
    minutes = max(0, int((now - post.created_at) // 60))
    impressions = 10 + seed % 50 + minutes * 3
    likes = impressions // 10
    return {
        "impressions": impressions,
        "likes": likes,
        "reposts": likes // 4,
        "replies": likes // 5,
        "quotes": likes // 8,
        "saves": likes // 6,
        "views": impressions + seed % 7,
    }
