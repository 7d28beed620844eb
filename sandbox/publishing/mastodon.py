"""Mastodon: the publishing side of the imitation (one instance under /mastodon). Registered with sandbox.registry.

    POST /api/v2/media                  multipart file (+description) → 202, url null while processing
    GET  /api/v1/media/:id              206 while processing, 200 with url once ready
    POST /api/v1/statuses               status, media_ids[], visibility; Idempotency-Key → the same status for 1 h
    GET  /api/v1/statuses/:id           one status with its counters
    GET  /api/v1/accounts/:id/statuses  newest first, limit ≤ 40, max_id/since_id paging, Link header
    GET  /api/v2/instance               configuration.statuses.max_characters and media limits

Statuses come back as Mastodon renders them (HTML `content`, no plain text). A status with media that is still
processing is refused with Mastodon's 422 "not finished processing". Mastodon has no duplicate refusal: the injected
`duplicate` fault answers 422 "Validation failed: Duplicate status" as a stand-in."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

# sandbox.oauth and sandbox.platforms import each other; loading the platforms package first lets either order work.
import sandbox.platforms  # noqa: F401
from sandbox.oauth import authenticate
from sandbox.params import Params, body_params
from sandbox.platforms.base import Platform, PlatformError
from sandbox.posts import add_media, find_post, injected_duplicate, next_id, peer_host, posts_of, state_of
from sandbox.publishing.mastodon_status import attachment, character_count, iso, multipart, status_json
from sandbox.registry import register_routes
from sandbox.state import SandboxMedia, SandboxPost, SandboxState, Token

MAX_CHARACTERS = 500
MAX_MEDIA = 4
IMAGE_BYTES = 16 * 1024 * 1024
VIDEO_BYTES = 99 * 1024 * 1024
PROCESSING_S = 0.2
IDEMPOTENCY_TTL_S = 3600
RATE_LIMIT = 300
_DESCRIPTIONS = "mastodon.media_descriptions"


def _error(status: int, message: str) -> PlatformError:
    return PlatformError(JSONResponse({"error": message}, status_code=status))


def _granted(token: Token, scope: str) -> bool:
    scopes = token.scope.split()
    return scope in scopes or scope.split(":")[0] in scopes


def _base(request: Request, platform: Platform) -> str:
    return f"{str(request.base_url).rstrip('/')}/{platform.name}"


def _descriptions(state: SandboxState) -> dict[str, str | None]:
    found: dict[str, str | None] = state.extra.setdefault(_DESCRIPTIONS, {})
    return found


class MastodonPublishing:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def user(self, request: Request, scope: str | None = None) -> Token:
        token = await authenticate(request, self.platform, self.platform.bearer(request))
        if not token.user_id:
            raise _error(422, "This method requires an authenticated user")
        if scope is not None and not _granted(token, scope):
            raise _error(403, "This action is outside the authorized scopes")
        return token

    def rate_headers(self, request: Request, user_id: str) -> dict[str, str]:
        state = state_of(request)
        now = state.now()
        used = len(posts_of(state, self.platform.name, user_id, since=now - 300))
        return {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": str(max(0, RATE_LIMIT - used)),
            "X-RateLimit-Reset": iso(now + 300),
        }

    def status(self, request: Request, post: SandboxPost) -> dict[str, Any]:
        state = state_of(request)
        handle = self.platform.cfg(request).user.handle
        return status_json(post, _base(request, self.platform), handle, state.now())

    def idempotent(self, state: SandboxState, user_id: str, key: str | None) -> SandboxPost | None:
        if not key:
            return None
        for post in reversed(state.posts):
            fresh = state.now() - post.created_at < IDEMPOTENCY_TTL_S
            if post.platform == self.platform.name and post.user_id == user_id and post.key == key and fresh:
                return post
        return None

    def attachments(self, request: Request, user_id: str, ids: list[str]) -> list[dict[str, Any]]:
        """Mastodon ignores ids that are not this account's unattached media and refuses unprocessed ones."""
        state = state_of(request)
        now = state.now()
        media = [m for m in (state.media.get(i) for i in ids) if m and m.platform == self.platform.name]
        media = [m for m in media if m.user_id == user_id]
        if len(ids) > MAX_MEDIA:
            raise _error(422, f"Validation failed: Cannot attach more than {MAX_MEDIA} files")
        if any(m.status(now) != "succeeded" for m in media):
            raise _error(422, "Cannot attach files that have not finished processing. Try again in a moment!")
        base = _base(request, self.platform)
        return [attachment(m, base, _descriptions(state).get(m.id), now) for m in media]

    def new_post(
        self, request: Request, token: Token, params: Params, attachments: list[dict[str, Any]]
    ) -> SandboxPost:
        text = params.get("status") or ""
        if not text.strip() and not attachments:
            raise _error(422, "Validation failed: Text can't be blank")
        if character_count(text) > MAX_CHARACTERS:
            raise _error(422, f"Validation failed: Text character limit of {MAX_CHARACTERS} exceeded")
        visibility = params.get("visibility") or "public"
        if visibility not in ("public", "unlisted", "private", "direct"):
            raise _error(422, "Validation failed: Visibility is not included in the list")
        post_id = next_id()
        handle = self.platform.cfg(request).user.handle
        return SandboxPost(
            platform=self.platform.name,
            id=post_id,
            user_id=token.user_id,
            text=text,
            created_at=state_of(request).now(),
            media_ids=[a["id"] for a in attachments],
            url=f"{_base(request, self.platform)}/@{handle}/{post_id}",
            key=request.headers.get("idempotency-key"),
            peer_host=peer_host(request),
            extra={
                "visibility": visibility,
                "spoiler_text": params.get("spoiler_text") or "",
                "sensitive": (params.get("sensitive") or "").lower() == "true",
                "language": params.get("language"),
                "attachments": attachments,
            },
        )


def _media_ids(params: Params) -> list[str]:
    ids = params.getlist("media_ids[]") + params.getlist("media_ids")
    flat: list[str] = []
    for raw in ids:  # a JSON list arrives as one JSON-encoded value
        value = json.loads(raw) if raw.startswith("[") else raw
        flat.extend(str(v) for v in (value if isinstance(value, list) else [value]))
    return flat


@register_routes("mastodon")
def mastodon_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()
    pub = MastodonPublishing(platform)

    @router.post("/api/v2/media", name="upload_media")
    async def upload_media(request: Request) -> Response:
        token = await pub.user(request, "write:media")
        parts = multipart(request.headers.get("content-type", ""), await request.body())
        file = (parts or {}).get("file")
        if file is None or not file.data:
            raise _error(422, "Validation failed: File can't be blank")
        kind = file.content_type.split("/")[0]
        limit = {"image": IMAGE_BYTES, "video": VIDEO_BYTES}.get(kind)
        if limit is None:
            raise _error(422, "Validation failed: File content type is invalid")
        if len(file.data) > limit:
            raise _error(422, f"Validation failed: File file size must be less than {limit} Bytes")
        state = state_of(request)
        now = state.now()
        media = SandboxMedia(platform.name, next_id(), token.user_id, file.content_type, len(file.data), now, now)
        media.ready_at = now + PROCESSING_S
        await add_media(state, media)
        description = parts.get("description") if parts else None
        _descriptions(state)[media.id] = description.data.decode() if description else None
        body = attachment(media, _base(request, platform), _descriptions(state)[media.id], now)
        return JSONResponse(body, status_code=202)

    @router.get("/api/v1/media/{media_id}", name="media")
    async def get_media(request: Request, media_id: str) -> Response:
        token = await pub.user(request)
        state = state_of(request)
        media = state.media.get(media_id)
        if media is None or media.platform != platform.name or media.user_id != token.user_id:
            raise _error(404, "Record not found")
        body = attachment(media, _base(request, platform), _descriptions(state).get(media_id), state.now())
        return JSONResponse(body, status_code=200 if body["url"] else 206)

    @router.post("/api/v1/statuses", name="create_status")
    async def create_status(request: Request) -> Response:
        token = await pub.user(request, "write:statuses")
        state = state_of(request)
        headers = pub.rate_headers(request, token.user_id)
        key = request.headers.get("idempotency-key")
        # Like PostStatusService: a known key answers with its status before anything is validated.
        earlier = pub.idempotent(state, token.user_id, key)
        if earlier is not None:
            return JSONResponse(pub.status(request, earlier), headers=headers)
        params = await body_params(request, allow_json=True)
        if params is None:
            raise _error(415, "Unsupported Content-Type")
        post = pub.new_post(request, token, params, pub.attachments(request, token.user_id, _media_ids(params)))
        if injected_duplicate(request, platform.name):
            raise _error(422, "Validation failed: Duplicate status")
        async with state.lock:  # check and insert together: two requests with one key make one status
            earlier = pub.idempotent(state, token.user_id, key)
            if earlier is None:
                state.posts.append(post)
        return JSONResponse(pub.status(request, earlier or post), headers=headers)

    @router.get("/api/v1/statuses/{status_id}", name="status")
    async def get_status(request: Request, status_id: str) -> Response:
        await pub.user(request)
        post = find_post(state_of(request), platform.name, status_id)
        if post is None:
            raise _error(404, "Record not found")
        return JSONResponse(pub.status(request, post))

    @router.get("/api/v1/accounts/{account_id}/statuses", name="account_statuses")
    async def account_statuses(
        request: Request, account_id: str, limit: int = 20, max_id: str | None = None, since_id: str | None = None
    ) -> Response:
        await pub.user(request)
        found = [
            p
            for p in reversed(posts_of(state_of(request), platform.name, account_id))
            if (max_id is None or int(p.id) < int(max_id)) and (since_id is None or int(p.id) > int(since_id))
        ][: max(1, min(limit, 40))]
        headers = {}
        if found:
            url = f"{_base(request, platform)}/api/v1/accounts/{account_id}/statuses"
            headers["Link"] = f'<{url}?max_id={found[-1].id}>; rel="next", <{url}?min_id={found[0].id}>; rel="prev"'
        return JSONResponse([pub.status(request, p) for p in found], headers=headers)

    @router.get("/api/v2/instance", name="instance")
    async def instance(request: Request) -> Response:
        return JSONResponse(
            {
                "domain": request.url.netloc,
                "title": "Sandbox Mastodon",
                "version": "4.3.0",
                "configuration": {
                    "statuses": {
                        "max_characters": MAX_CHARACTERS,
                        "max_media_attachments": MAX_MEDIA,
                        "characters_reserved_per_url": 23,
                    },
                    "media_attachments": {"image_size_limit": IMAGE_BYTES, "video_size_limit": VIDEO_BYTES},
                },
            }
        )

    return router
