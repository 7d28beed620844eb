"""TikTok sandbox helpers: the publish jobs TikTok tracks under a publish_id, request validation in TikTok's
error dialect, and the shapes of status/fetch and video/query answers (routes in sandbox/publishing/tiktok.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from fastapi import Request, Response

# sandbox.oauth and sandbox.platforms import each other; loading the platforms package first lets either order work.
import sandbox.platforms  # noqa: F401
from sandbox.oauth import authenticate
from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.tiktok import api_error
from sandbox.posts import SAMPLE_MEDIA, add_post, injected_duplicate, metrics_for, next_id, posts_of, state_of
from sandbox.state import SandboxPost, SandboxState, Token

CAPTION_LIMIT = 2200  # video title (the caption) and photo description share the 2,200 limit of PLATFORMS.md
PHOTO_TITLE_LIMIT = 90
MAX_PHOTOS = 35
MIN_CHUNK = 5 * 1024 * 1024  # below 5 MB a video goes up as one chunk
MAX_CHUNK = 64 * 1024 * 1024
PROCESSING_S = 0.2
# TikTok caps API posts per creator per day without saying how many; 15 stands in for it.
DAILY_POST_CAP = 15
PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY")
CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_JOBS = "tiktok.jobs"


@dataclass
class PublishJob:
    """One init: what TikTok tracks under a publish_id until the post is complete."""

    publish_id: str
    user_id: str
    kind: Literal["video", "photo"]
    caption: str
    privacy: str
    peer_host: str | None
    video_size: int = 0
    upload_token: str = ""
    chunks: dict[int, int] = field(default_factory=dict)  # start → length of every chunk received
    ready_at: float | None = None  # all media in; PUBLISH_COMPLETE from then on
    post_id: str | None = None
    fail_reason: str | None = None

    def uploaded(self) -> int:
        return sum(self.chunks.values())


def jobs(state: SandboxState) -> dict[str, PublishJob]:
    found: dict[str, PublishJob] = state.extra.setdefault(_JOBS, {})
    return found


def ok(data: dict[str, Any], status: int = 200) -> Response:
    return api_error(status, "ok", "", data)


def invalid(message: str) -> PlatformError:
    return PlatformError(api_error(400, "invalid_params", message))


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def json_object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name)
    if not isinstance(value, dict):
        raise invalid(f"{name} is required.")
    return value


def pullable(url: object) -> bool:
    """The sandbox can "download" only its own sample files (GET /_sandbox/media/<name>)."""
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        return False
    return urlsplit(url).path.rsplit("/", 1)[-1] in SAMPLE_MEDIA


def privacy_of(post_info: dict[str, Any]) -> str:
    privacy = post_info.get("privacy_level")
    if privacy not in PRIVACY_LEVELS:
        raise invalid("post_info.privacy_level must be one of the creator's privacy_level_options.")
    return str(privacy)


def caption_of(value: object, limit: int, name: str) -> str:
    text = value if isinstance(value, str) else ""
    # TikTok counts UTF-16 code units.
    if len(text.encode("utf-16-le")) // 2 > limit:
        raise invalid(f"{name} exceeds {limit} characters.")
    return text


class TikTokPublishing:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def token(self, request: Request, scopes: tuple[str, ...]) -> Token:
        token = await authenticate(request, self.platform, self.platform.bearer(request))
        if not set(scopes) & set(token.scope.split()):
            raise PlatformError(api_error(401, "scope_not_authorized", "The user did not authorize the scope."))
        return token

    def check_can_post(self, request: Request, user_id: str) -> None:
        state = state_of(request)
        if injected_duplicate(request, self.platform.name):
            raise PlatformError(api_error(403, "duplicate_post", "This content duplicates an earlier post."))
        recent = posts_of(state, self.platform.name, user_id, since=state.now() - 86_400)
        if len(recent) >= DAILY_POST_CAP:
            raise PlatformError(
                api_error(403, "spam_risk_too_many_posts", "The daily post cap from the API is reached.")
            )

    async def new_job(self, request: Request, job: PublishJob) -> PublishJob:
        state = state_of(request)
        async with state.lock:
            jobs(state)[job.publish_id] = job
        return job

    async def complete(self, request: Request, job: PublishJob, media: list[str]) -> None:
        """All media is in: the platform holds the post from now on and reports it complete after processing."""
        state = state_of(request)
        now = state.now()
        post = SandboxPost(
            platform=self.platform.name,
            id=next_id(),
            user_id=job.user_id,
            text=job.caption,
            created_at=now,
            media_ids=media,
            peer_host=job.peer_host,
            extra={"publish_id": job.publish_id, "privacy_level": job.privacy, "kind": job.kind},
        )
        user = self.platform.cfg(request).user
        post.url = f"https://www.tiktok.com/@{user.handle}/{job.kind}/{post.id}"
        await add_post(state, post)
        job.post_id = post.id
        job.ready_at = now + PROCESSING_S

    def status(self, request: Request, job: PublishJob) -> dict[str, Any]:
        now = state_of(request).now()
        data: dict[str, Any] = {"uploaded_bytes": job.uploaded()} if job.kind == "video" else {}
        if job.fail_reason is not None:
            return {**data, "status": "FAILED", "fail_reason": job.fail_reason}
        if job.ready_at is None or now < job.ready_at:
            waiting = "PROCESSING_UPLOAD" if job.upload_token else "PROCESSING_DOWNLOAD"
            return {**data, "status": waiting}
        # Only public posts get an id back (after moderation); private ones complete without one.
        public = job.privacy != "SELF_ONLY" and job.post_id is not None
        ids = [int(job.post_id)] if public and job.post_id else []
        return {**data, "status": "PUBLISH_COMPLETE", "publicaly_available_post_id": ids}


def upload_plan(source: dict[str, Any]) -> int:
    """Validate FILE_UPLOAD's video_size/chunk_size/total_chunk_count the way TikTok does; returns the size."""
    values = [source.get(k) for k in ("video_size", "chunk_size", "total_chunk_count")]
    size, chunk, count = (v if isinstance(v, int) and not isinstance(v, bool) else 0 for v in values)
    if min(size, chunk, count) <= 0:
        raise invalid("source_info needs positive video_size, chunk_size and total_chunk_count.")
    if size < MIN_CHUNK:
        if chunk != size or count != 1:
            raise invalid("A video under 5 MB must be uploaded as a single chunk of video_size bytes.")
    elif not MIN_CHUNK <= chunk <= MAX_CHUNK or count != size // chunk:
        raise invalid("chunk_size must be 5-64 MB and total_chunk_count must be floor(video_size / chunk_size).")
    return size


def video_fields(post: SandboxPost, now: float) -> dict[str, Any]:
    counters = metrics_for(post, now)
    return {
        "id": post.id,
        "title": post.text,
        "create_time": int(post.created_at),
        "share_url": post.url,
        "like_count": counters["likes"],
        "comment_count": counters["replies"],
        "share_count": counters["reposts"],
        "view_count": counters["views"],
    }
