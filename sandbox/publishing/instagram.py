"""Instagram API with Instagram Login, content publishing side: containers (`POST /{ig-user}/media`, see
instagram_containers.py), `GET /{container}?fields=status_code`, `POST /{ig-user}/media_publish`, the user's media
list the adapter searches once a container says PUBLISHED, media fields, `/{media}/insights` and
`/{ig-user}/content_publishing_limit`.

Errors follow Instagram's table: 9007/2207027 container not ready, -2/2207020 container expired, 9/2207042 the
50-posts-per-24-hours cap, 4/2207051 spam, 9004/2207052 media that cannot be fetched. Instagram documents no duplicate
refusal; the injected `duplicate` fault answers the Graph family's 506 so the adapter's mapping can be exercised."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.graph import VERSION_PATTERN, graph_error
from sandbox.posts import find_post, injected_duplicate, metrics_for, next_id, peer_host, posts_of, state_of
from sandbox.publishing.facebook_graph import (
    SPAM_MARKER,
    graph_params,
    graph_time,
    graph_token,
    insight_row,
    paged,
    time_param,
    top_level_fields,
    unknown_object,
)
from sandbox.publishing.instagram_containers import Container, build, containers, invalid
from sandbox.registry import register_routes
from sandbox.state import SandboxPost, SandboxState, Token

Version = Path(pattern=VERSION_PATTERN)
PUBLISH = "instagram_business_content_publish"
BASIC = "instagram_business_basic"
INSIGHTS = "instagram_business_manage_insights"
DAILY_POSTS = 50
DAY_S = 86_400
METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")


def own(token: Token, ig_user: str) -> None:
    if token.user_id != ig_user:
        raise unknown_object(ig_user)


def daily_cap(state: SandboxState, user_id: str) -> None:
    now = state.now()
    recent = posts_of(state, "instagram", user_id, since=now - DAY_S)
    if len(recent) < DAILY_POSTS:
        return
    minutes = math.ceil((min(p.created_at for p in recent) + DAY_S - now) / 60)
    response = graph_error(
        400,
        "Application request limit reached",
        9,
        2207042,
        error_user_title="Max posts reached",
        error_user_msg="You reached maximum number of posts that is allowed to be published by Content Publishing API.",
    )
    usage = {"call_count": 100, "total_cputime": 0, "total_time": 0, "estimated_time_to_regain_access": minutes}
    response.headers["X-Business-Use-Case-Usage"] = json.dumps({user_id: [{"type": "instagram", **usage}]})
    raise PlatformError(response)


def refuse_unpublishable(container: Container, now: float) -> None:
    code = container.status_code(now)
    if container.is_carousel_item:
        raise invalid("(#100) A carousel item cannot be published on its own")
    if code == "IN_PROGRESS":
        raise invalid(
            "Media ID is not available",
            9007,
            2207027,
            error_user_title="Media not ready for publishing",
            error_user_msg="The media is not ready for publishing, please wait for a moment",
        )
    if code == "EXPIRED":
        raise invalid("The media you are trying to access has expired. Please try to upload again.", -2, 2207020)
    if code == "ERROR":
        raise invalid(f"(#100) The container cannot be published: {container.error}")
    if code == "PUBLISHED":
        raise invalid("(#100) The media has already been published")


def media_fields(post: SandboxPost, fields: list[str], now: float, username: str) -> dict[str, Any]:
    m = metrics_for(post, now)
    source: dict[str, Any] = {
        "id": post.id,
        "caption": post.text,
        "media_type": post.extra["media_type"],
        "media_product_type": "REELS" if post.extra["media_type"] == "VIDEO" else "FEED",
        "permalink": post.url,
        "shortcode": post.extra["shortcode"],
        "timestamp": graph_time(post.created_at),
        "like_count": m["likes"],
        "comments_count": m["replies"],
        "username": username,
    }
    if not post.text:
        del source["caption"]  # Graph leaves caption out for media without one
    return {f: source[f] for f in ["id", *fields] if f in source}


def shortcode(media_id: str) -> str:
    return base64.urlsafe_b64encode(int(media_id).to_bytes(8, "big")).decode().rstrip("=").lstrip("A")


def published_type(container: Container) -> str:
    if container.media_type == "CAROUSEL":
        return "CAROUSEL_ALBUM"
    return "VIDEO" if container.media_type in ("VIDEO", "REELS") else "IMAGE"


@register_routes("instagram")
def instagram_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()

    @router.post("/{ver}/{ig_user}/media", name="create_container")
    async def create_container(request: Request, ig_user: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        own(await graph_token(platform, request, params, PUBLISH), ig_user)
        state = state_of(request)
        container = build(state, next_id(), ig_user, params)
        async with state.lock:
            containers(state)[container.id] = container
        return JSONResponse({"id": container.id})

    @router.post("/{ver}/{ig_user}/media_publish", name="media_publish")
    async def media_publish(request: Request, ig_user: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        own(await graph_token(platform, request, params, PUBLISH), ig_user)
        state = state_of(request)
        container = containers(state).get(str(params.get("creation_id") or ""))
        if container is None or container.user_id != ig_user:
            raise invalid("(#100) Param creation_id must be a valid media container id")
        daily_cap(state, ig_user)
        if SPAM_MARKER in container.caption:
            raise invalid(
                "We restrict certain activity to protect our community. Tell us if you think we made a mistake.",
                4,
                2207051,
                error_user_title="Action is blocked",
            )
        if injected_duplicate(request, "instagram"):
            raise PlatformError(graph_error(400, "(#506) Duplicate post", 506))
        async with state.lock:  # check and publish at once: two concurrent calls must not make two posts
            refuse_unpublishable(container, state.now())
            media_id = next_id()
            code = shortcode(media_id)
            post = SandboxPost(
                platform="instagram",
                id=media_id,
                user_id=ig_user,
                text=container.caption,
                created_at=state.now(),
                media_ids=container.children or [container.id],
                url=f"https://www.instagram.com/p/{code}/",
                peer_host=peer_host(request),
                extra={"container": container.id, "media_type": published_type(container), "shortcode": code},
            )
            state.posts.append(post)
            container.media_id = media_id
        return JSONResponse({"id": media_id})

    @router.get("/{ver}/{ig_user}/media", name="user_media")
    async def user_media(request: Request, ig_user: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        own(await graph_token(platform, request, params, BASIC), ig_user)
        state = state_of(request)
        since = time_param(params.get("since"), "since")
        until = time_param(params.get("until"), "until")
        found = [
            p
            for p in reversed(posts_of(state, "instagram", ig_user, since=since))
            if until is None or p.created_at <= until
        ]
        page, paging = paged(request, found, params)
        fields = top_level_fields(request, ("id",))
        handle = platform.cfg(request).user.handle
        return JSONResponse({"data": [media_fields(p, fields, state.now(), handle) for p in page], "paging": paging})

    @router.get("/{ver}/{ig_user}/content_publishing_limit", name="publishing_limit")
    async def publishing_limit(request: Request, ig_user: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        own(await graph_token(platform, request, params, BASIC), ig_user)
        state = state_of(request)
        used = len(posts_of(state, "instagram", ig_user, since=state.now() - DAY_S))
        config = {"quota_total": DAILY_POSTS, "quota_duration": DAY_S}
        return JSONResponse({"data": [{"quota_usage": used, "config": config}]})

    @router.get("/{ver}/{object_id}", name="object")
    async def graph_object(request: Request, object_id: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        token = await graph_token(platform, request, params, BASIC)
        state = state_of(request)
        container = containers(state).get(object_id)
        if container is not None and container.user_id == token.user_id:
            now = state.now()
            source = {"id": container.id, "status_code": container.status_code(now), "status": container.status(now)}
            return JSONResponse({f: source[f] for f in ["id", *top_level_fields(request, ("id",))] if f in source})
        post = find_post(state, "instagram", object_id)
        if post is None or post.user_id != token.user_id:
            raise unknown_object(object_id)
        fields = top_level_fields(request, ("id",))
        return JSONResponse(media_fields(post, fields, state.now(), platform.cfg(request).user.handle))

    @router.get("/{ver}/{media_id}/insights", name="insights")
    async def insights(request: Request, media_id: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        token = await graph_token(platform, request, params, BASIC, INSIGHTS)
        state = state_of(request)
        post = find_post(state, "instagram", media_id)
        if post is None or post.user_id != token.user_id:
            raise unknown_object(media_id)
        wanted = [m.strip() for m in str(params.get("metric") or "").split(",") if m.strip()]
        if not wanted or any(m not in METRICS for m in wanted):
            raise invalid(f"(#100) metric must be one of the following values: {', '.join(METRICS)}")
        m = metrics_for(post, state.now())
        values = {
            "views": m["views"],
            "reach": m["impressions"] * 3 // 4,
            "likes": m["likes"],
            "comments": m["replies"],
            "shares": m["reposts"],
            "saved": m["saves"],
            "total_interactions": m["likes"] + m["replies"] + m["reposts"] + m["saves"],
        }
        return JSONResponse({"data": [insight_row(media_id, name, values[name]) for name in wanted]})

    return router
