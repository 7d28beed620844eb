"""X API v2 media upload: one-shot `POST /2/media/upload` (multipart) for images, the chunked
initialize → append → finalize flow for videos and GIFs, and `GET /2/media/upload?command=STATUS` to poll
`processing_info` (pending → succeeded) before a tweet may use the media id."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.oauth import authenticate
from sandbox.platforms.base import Platform, PlatformError
from sandbox.posts import add_media, next_id, state_of
from sandbox.state import SandboxMedia, SandboxState

PROCESSING_S = 0.2  # videos and GIFs stay "pending" this long after finalize, so clients must poll STATUS
CHECK_AFTER_S = 1
EXPIRES_AFTER_S = 86_400
LIMITS = {"image": 5 * 1024 * 1024, "gif": 15 * 1024 * 1024, "video": 512 * 1024 * 1024}
TYPES = {
    "image/jpeg": "image",
    "image/png": "image",
    "image/webp": "image",
    "image/gif": "gif",
    "video/mp4": "video",
    "video/quicktime": "video",
}
_NAME_RE = re.compile(rb'name="([^"]*)"')
_TYPE_RE = re.compile(rb"content-type:\s*([^\r\n;]+)", re.IGNORECASE)


@dataclass
class Upload:
    """A chunked upload between initialize and finalize."""

    id: str
    user_id: str
    media_type: str
    total_bytes: int
    segments: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Part:
    data: bytes
    content_type: str | None


def bad(message: str) -> PlatformError:
    body = {
        "title": "Invalid Request",
        "detail": message,
        "type": "https://api.twitter.com/2/problems/invalid-request",
        "status": 400,
        "errors": [{"message": message}],
    }
    return PlatformError(JSONResponse(body, status_code=400))


async def multipart(request: Request) -> dict[str, Part]:
    """A multipart/form-data body by field name (the sandbox has no python-multipart)."""
    ctype = request.headers.get("content-type", "")
    match = re.search(r'boundary="?([^";]+)"?', ctype)
    if not ctype.lower().startswith("multipart/form-data") or match is None:
        raise bad("Content-Type must be multipart/form-data")
    delimiter = b"--" + match.group(1).encode()
    parts: dict[str, Part] = {}
    for chunk in (await request.body()).split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = _NAME_RE.search(head)
        if name is not None:
            kind = _TYPE_RE.search(head)
            parts[name.group(1).decode()] = Part(
                data.removesuffix(b"\r\n"), kind.group(1).decode().strip().lower() if kind else None
            )
    return parts


def _uploads(state: SandboxState) -> dict[str, Upload]:
    uploads: dict[str, Upload] = state.extra.setdefault("x.uploads", {})
    return uploads


def media_json(media: SandboxMedia, now: float) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": media.id,
        "media_key": f"{'7' if TYPES.get(media.content_type) == 'video' else '3'}_{media.id}",
        "size": media.size,
        "expires_after_secs": max(0, int(media.created_at + EXPIRES_AFTER_S - now)),
    }
    status = media.status(now)
    if status == "processing":
        data["processing_info"] = {"state": "pending", "check_after_secs": CHECK_AFTER_S, "progress_percent": 0}
    elif TYPES.get(media.content_type) != "image":
        data["processing_info"] = {"state": status, "progress_percent": 100}
    return data


def _kind(media_type: str | None, size: int) -> str:
    kind = TYPES.get(media_type or "")
    if kind is None:
        raise bad(f"Unsupported media_type {media_type!r}")
    if size > LIMITS[kind]:
        raise bad(f"File size exceeds {LIMITS[kind]} bytes")
    return kind


def media_router(platform: Platform) -> APIRouter:
    router = APIRouter()

    async def user_of(request: Request) -> str:
        token = await authenticate(request, platform, platform.bearer(request))
        if "media.write" not in token.scope.split():
            body = {"title": "Forbidden", "detail": "Missing scope media.write", "type": "about:blank", "status": 403}
            raise PlatformError(JSONResponse(body, status_code=403))
        return token.user_id

    @router.post("/2/media/upload", name="media_upload")
    async def upload(request: Request) -> Response:
        user_id = await user_of(request)
        parts = await multipart(request)
        media = parts.get("media")
        if media is None or not media.data:
            raise bad("media is required")
        declared = parts.get("media_type")
        media_type = declared.data.decode() if declared else media.content_type
        if _kind(media_type, len(media.data)) != "image":
            raise bad("Videos and GIFs must use the chunked upload (initialize, append, finalize)")
        state = state_of(request)
        now = state.now()
        item = SandboxMedia("x", next_id(), user_id, media_type or "", len(media.data), now, ready_at=now)
        await add_media(state, item)
        return JSONResponse({"data": media_json(item, now)})

    @router.get("/2/media/upload", name="media_status")
    async def status(request: Request) -> Response:
        user_id = await user_of(request)
        if request.query_params.get("command") != "STATUS":
            raise bad("command must be STATUS")
        state = state_of(request)
        media = state.media.get(request.query_params.get("media_id") or "")
        if media is None or media.platform != "x" or media.user_id != user_id:
            raise bad("media_id was not found")
        return JSONResponse({"data": media_json(media, state.now())})

    @router.post("/2/media/upload/initialize", name="media_initialize")
    async def initialize(request: Request) -> Response:
        user_id = await user_of(request)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            raise bad("Request body is not valid JSON") from None
        total = body.get("total_bytes") if isinstance(body, dict) else None
        if not isinstance(total, int) or total <= 0:
            raise bad("total_bytes must be a positive integer")
        media_type = str(body.get("media_type") or "")
        _kind(media_type, total)
        upload = Upload(next_id(), user_id, media_type, total)
        state = state_of(request)
        async with state.lock:
            _uploads(state)[upload.id] = upload
        return JSONResponse({"data": {"id": upload.id, "media_key": f"7_{upload.id}", "expires_after_secs": 86_400}})

    @router.post("/2/media/upload/{media_id}/append", name="media_append")
    async def append(request: Request, media_id: str) -> Response:
        user_id = await user_of(request)
        upload = _uploads(state_of(request)).get(media_id)
        if upload is None or upload.user_id != user_id:
            raise bad("media_id was not found or is already finalized")
        parts = await multipart(request)
        segment = parts.get("segment_index")
        media = parts.get("media")
        if segment is None or not segment.data.isdigit() or media is None:
            raise bad("segment_index and media are required")
        upload.segments[int(segment.data)] = len(media.data)
        return JSONResponse({"data": {"expires_at": 0}})

    @router.post("/2/media/upload/{media_id}/finalize", name="media_finalize")
    async def finalize(request: Request, media_id: str) -> Response:
        user_id = await user_of(request)
        state = state_of(request)
        async with state.lock:
            upload = _uploads(state).get(media_id)
            if upload is None or upload.user_id != user_id:
                raise bad("media_id was not found or is already finalized")
            if sum(upload.segments.values()) != upload.total_bytes:
                raise bad("Segments do not add up to the provided total file size")
            del _uploads(state)[media_id]
        now = state.now()
        item = SandboxMedia("x", media_id, user_id, upload.media_type, upload.total_bytes, now, now + PROCESSING_S)
        await add_media(state, item)
        return JSONResponse({"data": media_json(item, now)})

    return router
