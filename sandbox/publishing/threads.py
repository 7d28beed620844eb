"""Threads: the publishing side of the imitation (graph.threads.net). Registered with sandbox.registry.

    POST /{ver}/{user}/threads             container: media_type TEXT|IMAGE|VIDEO|CAROUSEL → {"id"}
    GET  /{ver}/{container-or-media}       container: {id, status, error_message}; media: its fields
    POST /{ver}/{user}/threads_publish     creation_id → {"id": media id}; the container becomes PUBLISHED
    GET  /{ver}/{user}/threads             the user's posts, newest first (since/until/limit)
    GET  /{ver}/{media}/insights           views, likes, replies, reposts, quotes, shares
    GET  /{ver}/{user}/threads_publishing_limit

Containers are IN_PROGRESS for a moment (TEXT briefly, media PROCESSING_S) and expire after 24 h, so clients poll
before publishing. Only the sandbox's sample files can be "downloaded" for IMAGE/VIDEO containers; any other URL
ends in status ERROR. Errors use the Graph shape (sandbox.platforms.graph). Threads documents no duplicate refusal:
the injected `duplicate` fault answers Graph's generic duplicate code 506 at threads_publish."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

# sandbox.oauth and sandbox.platforms import each other; loading the platforms package first lets either order work.
import sandbox.platforms  # noqa: F401
from sandbox.oauth import authenticate
from sandbox.params import Params, body_params, query_params
from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.graph import VERSION_PATTERN, graph_error, requested_fields
from sandbox.posts import (
    SAMPLE_MEDIA,
    add_post,
    find_post,
    injected_duplicate,
    metrics_for,
    next_id,
    peer_host,
    posts_of,
    state_of,
)
from sandbox.registry import register_routes
from sandbox.state import SandboxPost, SandboxState, Token

TEXT_LIMIT = 500
CAROUSEL_ITEMS = (2, 20)
PROCESSING_S = 0.2
TEXT_PROCESSING_S = 0.05
CONTAINER_TTL_S = 86_400
PUBLISH_QUOTA = 250  # posts per rolling 24 h
_CONTAINERS = "threads.containers"
_TYPE = "THApiException"
VER = Path(pattern=VERSION_PATTERN)


@dataclass
class Container:
    id: str
    user_id: str
    media_type: str
    text: str
    created_at: float
    ready_at: float
    media_url: str | None = None
    children: list[str] = field(default_factory=list)
    carousel_item: bool = False
    error: str | None = None
    published_id: str | None = None

    def status(self, now: float) -> str:
        if self.published_id is not None:
            return "PUBLISHED"
        if self.error is not None:
            return "ERROR"
        if now >= self.created_at + CONTAINER_TTL_S:
            return "EXPIRED"
        return "FINISHED" if now >= self.ready_at else "IN_PROGRESS"


def _containers(state: SandboxState) -> dict[str, Container]:
    found: dict[str, Container] = state.extra.setdefault(_CONTAINERS, {})
    return found


def _invalid(message: str, subcode: int | None = None) -> PlatformError:
    return PlatformError(graph_error(400, message, 100, subcode, kind=_TYPE))


def _missing(object_id: str) -> PlatformError:
    message = f"Unsupported get request. Object with ID '{object_id}' does not exist or cannot be loaded."
    return PlatformError(graph_error(400, message, 100, 33, kind=_TYPE))


def _pullable(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").path.rsplit("/", 1)[-1] in SAMPLE_MEDIA


def _timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


async def _params(request: Request) -> Params:
    """Graph takes parameters in the query string or a form/JSON body, interchangeably."""
    merged = {k: query_params(request).getlist(k) for k in request.query_params}
    body = await body_params(request, allow_json=True)
    if body is not None:
        for key in ("media_type", "text", "image_url", "video_url", "is_carousel_item", "children", "creation_id"):
            if key in body:
                merged[key] = body.getlist(key)
    return Params(merged)


class ThreadsPublishing:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def user(self, request: Request, user_id: str) -> Token:
        token = await authenticate(request, self.platform, self.platform.bearer(request))
        if user_id not in ("me", token.user_id):
            raise PlatformError(graph_error(403, "Cannot act on behalf of another user", 10, kind=_TYPE))
        return token

    def media_fields(self, request: Request, post: SandboxPost) -> dict[str, Any]:
        user = self.platform.cfg(request).user
        return {
            "id": post.id,
            "media_product_type": "THREADS",
            "media_type": post.extra.get("media_type", "TEXT_POST"),
            "permalink": post.url,
            "shortcode": post.extra.get("shortcode"),
            "text": post.text,
            "timestamp": _timestamp(post.created_at),
            "username": user.handle,
            "owner": {"id": post.user_id},
            "is_quote_post": False,
        }

    def container(self, params: Params, token: Token, now: float) -> Container:
        media_type = (params.get("media_type") or "").upper()
        text = params.get("text") or ""
        if len(text) > TEXT_LIMIT:
            raise _invalid(f"Param text must be at most {TEXT_LIMIT} characters long.", 4279006)
        made = Container(next_id(), token.user_id, media_type, text, now, now + PROCESSING_S)
        made.carousel_item = (params.get("is_carousel_item") or "").lower() == "true"
        if media_type == "TEXT":
            if not text:
                raise _invalid("Param text is required for TEXT posts.")
            made.ready_at = now + TEXT_PROCESSING_S
        elif media_type in ("IMAGE", "VIDEO"):
            made.media_url = params.get("image_url" if media_type == "IMAGE" else "video_url")
            if not made.media_url:
                raise _invalid(f"Param {'image_url' if media_type == 'IMAGE' else 'video_url'} is required.")
            if not _pullable(made.media_url):
                made.error = "FAILED_DOWNLOADING_VIDEO" if media_type == "VIDEO" else "UNKNOWN"
        elif media_type == "CAROUSEL":
            made.children = [c.strip() for c in (params.get("children") or "").split(",") if c.strip()]
        else:
            raise _invalid("Param media_type must be one of TEXT, IMAGE, VIDEO, CAROUSEL.")
        return made

    def check_children(self, state: SandboxState, parent: Container) -> None:
        low, high = CAROUSEL_ITEMS
        if not low <= len(parent.children) <= high:
            raise _invalid(f"A carousel needs {low}-{high} children.")
        for child_id in parent.children:
            child = _containers(state).get(child_id)
            if child is None or child.user_id != parent.user_id or not child.carousel_item:
                raise _invalid(f"Param children contains an invalid carousel item: {child_id}.")
            if child.status(state.now()) != "FINISHED":
                raise _invalid(f"Carousel item {child_id} is not ready.", 2207027)

    async def publish(self, request: Request, container: Container) -> SandboxPost:
        state = state_of(request)
        now = state.now()
        status = container.status(now)
        if status == "PUBLISHED":
            raise _invalid("The container has already been published.")
        if status == "EXPIRED":
            raise PlatformError(graph_error(400, "The media container has expired.", 24, 2207020, kind=_TYPE))
        if status != "FINISHED":
            message = "The media is not ready for publishing, please wait for a moment."
            raise PlatformError(graph_error(400, message, 9007, 2207027, kind=_TYPE))
        if injected_duplicate(request, self.platform.name):
            raise PlatformError(graph_error(400, "Duplicate post", 506, kind=_TYPE))
        if len(posts_of(state, self.platform.name, container.user_id, since=now - 86_400)) >= PUBLISH_QUOTA:
            raise PlatformError(graph_error(400, "Publishing limit reached", 4, 2207042, kind=_TYPE))
        shortcode = secrets.token_urlsafe(8).replace("-", "A").replace("_", "B")
        media = [c.media_url for c in self.items(state, container) if c.media_url]
        handle = self.platform.cfg(request).user.handle
        post = SandboxPost(
            platform=self.platform.name,
            id=next_id(),
            user_id=container.user_id,
            text=container.text,
            created_at=now,
            media_ids=[m for m in media if m],
            url=f"https://www.threads.net/@{handle}/post/{shortcode}",
            peer_host=peer_host(request),
            extra={"container_id": container.id, "shortcode": shortcode, "media_type": _post_type(container)},
        )
        async with state.lock:
            if container.published_id is not None:  # a concurrent publish of the same container won
                raise _invalid("The container has already been published.")
            container.published_id = post.id
        await add_post(state, post)
        return post

    def items(self, state: SandboxState, container: Container) -> list[Container]:
        if container.media_type != "CAROUSEL":
            return [container]
        return [c for c in (_containers(state).get(i) for i in container.children) if c is not None]


def _post_type(container: Container) -> str:
    return {"TEXT": "TEXT_POST", "CAROUSEL": "CAROUSEL_ALBUM"}.get(container.media_type, container.media_type)


@register_routes("threads")
def threads_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()
    pub = ThreadsPublishing(platform)

    @router.post("/{ver}/{user_id}/threads", name="create_container")
    async def create_container(request: Request, user_id: str, ver: str = VER) -> Response:
        token = await pub.user(request, user_id)
        state = state_of(request)
        container = pub.container(await _params(request), token, state.now())
        if container.media_type == "CAROUSEL":
            pub.check_children(state, container)
        async with state.lock:
            _containers(state)[container.id] = container
        return JSONResponse({"id": container.id})

    @router.post("/{ver}/{user_id}/threads_publish", name="publish")
    async def publish(request: Request, user_id: str, ver: str = VER) -> Response:
        token = await pub.user(request, user_id)
        creation_id = (await _params(request)).get("creation_id") or ""
        container = _containers(state_of(request)).get(creation_id)
        if container is None or container.user_id != token.user_id or container.carousel_item:
            raise _invalid(f"Param creation_id {creation_id!r} is not a container of this user.", 4279009)
        post = await pub.publish(request, container)
        return JSONResponse({"id": post.id})

    @router.get("/{ver}/{user_id}/threads", name="list_threads")
    async def list_threads(
        request: Request,
        user_id: str,
        ver: str = VER,
        since: int | None = None,
        until: int | None = None,
        limit: int = 25,
    ) -> Response:
        token = await pub.user(request, user_id)
        fields = requested_fields(request, ("id",))
        found = [
            p
            for p in reversed(posts_of(state_of(request), platform.name, token.user_id, since=since))
            if until is None or p.created_at <= until
        ][: max(1, min(limit, 100))]
        data = [{f: v for f, v in pub.media_fields(request, p).items() if f in fields} for p in found]
        return JSONResponse({"data": data, "paging": {}})

    @router.get("/{ver}/{user_id}/threads_publishing_limit", name="publishing_limit")
    async def publishing_limit(request: Request, user_id: str, ver: str = VER) -> Response:
        token = await pub.user(request, user_id)
        state = state_of(request)
        used = len(posts_of(state, platform.name, token.user_id, since=state.now() - 86_400))
        config = {"quota_total": PUBLISH_QUOTA, "quota_duration": 86_400}
        return JSONResponse({"data": [{"quota_usage": used, "config": config}]})

    @router.get("/{ver}/{media_id}/insights", name="insights")
    async def insights(request: Request, media_id: str, ver: str = VER, metric: str = "") -> Response:
        token = await authenticate(request, platform, platform.bearer(request))
        post = find_post(state_of(request), platform.name, media_id)
        if post is None or post.user_id != token.user_id:
            raise _missing(media_id)
        counters = metrics_for(post, state_of(request).now())
        values = {**counters, "shares": counters["saves"]}
        wanted = [m.strip() for m in metric.split(",") if m.strip()]
        if not wanted or any(m not in ("views", "likes", "replies", "reposts", "quotes", "shares") for m in wanted):
            raise _invalid("Param metric must list views, likes, replies, reposts, quotes or shares.")
        data = [
            {"name": m, "period": "lifetime", "values": [{"value": values[m]}], "id": f"{media_id}/insights/{m}"}
            for m in wanted
        ]
        return JSONResponse({"data": data})

    @router.get("/{ver}/{object_id}", name="object")
    async def get_object(request: Request, object_id: str, ver: str = VER) -> Response:
        token = await authenticate(request, platform, platform.bearer(request))
        state = state_of(request)
        container = _containers(state).get(object_id)
        if container is not None and container.user_id == token.user_id:
            body: dict[str, Any] = {"id": container.id, "status": container.status(state.now())}
            if container.error:
                body["error_message"] = container.error
            return JSONResponse(body)
        post = find_post(state, platform.name, object_id)
        if post is None or post.user_id != token.user_id:
            raise _missing(object_id)
        fields = requested_fields(request, ("id",))
        return JSONResponse({f: v for f, v in pub.media_fields(request, post).items() if f in fields})

    return router
