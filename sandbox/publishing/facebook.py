"""Facebook Pages (Graph API), publishing side: `POST /{page}/feed` (message, link, attached_media), `POST
/{page}/photos` (a photo pulled from `url`, published as a post, or unpublished for a multi-photo post), the page feed
(`GET /{page}/feed?since=`) the adapter searches before a retry, post fields (reactions, comments, shares) and
`/{post}/insights`.

Only a page token of that page may post (a user token gets (#200)). Errors are Graph errors: 506 for the same message
twice, 368 for content deemed abusive, 100 for invalid parameters, 324 for an image that cannot be fetched."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse

from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.graph import VERSION_PATTERN, graph_error
from sandbox.posts import add_post, find_post, injected_duplicate, metrics_for, next_id, peer_host, posts_of, state_of
from sandbox.publishing.facebook_graph import (
    SPAM_MARKER,
    graph_params,
    graph_time,
    graph_token,
    insight_row,
    is_true,
    paged,
    sample_media,
    time_param,
    top_level_fields,
    unknown_object,
    utf16_length,
)
from sandbox.registry import register_routes
from sandbox.state import SandboxPost, SandboxState, Token

MAX_MESSAGE = 63_206
Version = Path(pattern=VERSION_PATTERN)
_ATTACHED = re.compile(r"^attached_media\[(\d+)\]$")
INSIGHTS = ("post_impressions", "post_impressions_unique", "post_clicks")


@dataclass
class Photo:
    id: str
    page_id: str
    created_at: float
    post_id: str | None = None  # set once published, alone or attached to a feed post


def photos(state: SandboxState) -> dict[str, Photo]:
    found: dict[str, Photo] = state.extra.setdefault("facebook.photos", {})
    return found


def check_page(token: Token, page_id: str) -> None:
    if token.extra.get("page_id") != page_id:
        message = (
            "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts as an admin "
            "with sufficient administrative permission"
        )
        raise PlatformError(graph_error(403, message, 200))


def check_message(request: Request, state: SandboxState, page_id: str, message: str, *, natural: bool) -> None:
    if utf16_length(message) > MAX_MESSAGE:
        raise PlatformError(graph_error(400, f"(#100) The message must be at most {MAX_MESSAGE} characters", 100))
    if SPAM_MARKER in message:
        text = "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
        raise PlatformError(graph_error(400, text, 368, 1390008))
    repeated = natural and message.strip() and any(p.text == message for p in posts_of(state, "facebook", page_id))
    if injected_duplicate(request, "facebook") or repeated:
        raise PlatformError(graph_error(400, "(#506) Duplicate status message", 506))


def attached(params: dict[str, Any]) -> list[str]:
    """Photo ids of `attached_media[i]={"media_fbid": ...}` (form) or `attached_media: [...]` (JSON)."""
    entries: list[Any] = []
    listed = params.get("attached_media")
    if isinstance(listed, str):
        listed = _json(listed)
    if isinstance(listed, list):
        entries = listed
    indexed = sorted((int(m.group(1)), v) for k, v in params.items() if (m := _ATTACHED.match(k)))
    entries += [_json(v) if isinstance(v, str) else v for _, v in indexed]
    ids = [str(e.get("media_fbid")) for e in entries if isinstance(e, dict) and e.get("media_fbid")]
    if len(ids) != len(entries):
        raise PlatformError(graph_error(400, "(#100) attached_media entries need a media_fbid", 100))
    return ids


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise PlatformError(graph_error(400, "(#100) attached_media must be JSON", 100)) from None


def claim_photos(state: SandboxState, page_id: str, ids: list[str]) -> None:
    for photo_id in ids:
        photo = photos(state).get(photo_id)
        if photo is None or photo.page_id != page_id:
            raise PlatformError(graph_error(400, f"(#100) Invalid media_fbid {photo_id}", 100))
        if photo.post_id is not None:
            raise PlatformError(graph_error(400, f"(#100) Photo {photo_id} is already published", 100))


def post_fields(post: SandboxPost, fields: list[str], now: float) -> dict[str, Any]:
    m = metrics_for(post, now)
    page_id, _, story = post.id.partition("_")
    source: dict[str, Any] = {
        "id": post.id,
        "created_time": graph_time(post.created_at),
        "permalink_url": f"https://www.facebook.com/{page_id}/posts/{story}",
        "reactions": {"data": [], "summary": {"total_count": m["likes"], "viewer_reaction": "NONE"}},
        "comments": {"data": [], "summary": {"order": "ranked", "total_count": m["replies"], "can_comment": True}},
    }
    if post.text:
        source["message"] = post.text
    if m["reposts"]:  # Graph leaves `shares` out entirely while a post has none
        source["shares"] = {"count": m["reposts"]}
    return {f: source[f] for f in ["id", *fields] if f in source}


async def new_post(request: Request, page_id: str, text: str, media_ids: list[str]) -> SandboxPost:
    state = state_of(request)
    post_id = f"{page_id}_{next_id()}"
    post = SandboxPost(
        platform="facebook",
        id=post_id,
        user_id=page_id,
        text=text,
        created_at=state.now(),
        media_ids=media_ids,
        url=f"https://www.facebook.com/{page_id}/posts/{post_id.partition('_')[2]}",
        peer_host=peer_host(request),
    )
    async with state.lock:
        for photo_id in media_ids:
            photos(state)[photo_id].post_id = post_id
    return await add_post(state, post)


@register_routes("facebook")
def facebook_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()

    @router.post("/{ver}/{page_id}/feed", name="create_feed_post")
    async def create_feed_post(request: Request, page_id: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        check_page(await graph_token(platform, request, params, "pages_manage_posts"), page_id)
        state = state_of(request)
        message, link = str(params.get("message") or ""), params.get("link")
        ids = attached(params)
        if not message.strip() and not link and not ids:
            raise PlatformError(graph_error(400, "(#100) Missing message or attachment", 100))
        if link is not None and not str(link).startswith(("http://", "https://")):
            raise PlatformError(graph_error(400, "(#100) link URL is not properly formatted", 100))
        claim_photos(state, page_id, ids)
        check_message(request, state, page_id, message, natural=True)
        post = await new_post(request, page_id, message, ids)
        return JSONResponse({"id": post.id})

    @router.post("/{ver}/{page_id}/photos", name="create_photo")
    async def create_photo(request: Request, page_id: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        check_page(await graph_token(platform, request, params, "pages_manage_posts"), page_id)
        fetched = sample_media(params.get("url"))
        if fetched is None or not fetched[1].startswith("image/"):
            raise PlatformError(graph_error(400, "(#324) Missing or invalid image file", 324))
        state = state_of(request)
        photo = Photo(next_id(), page_id, state.now())
        caption = str(params.get("caption") or params.get("message") or "")
        published = not (params.get("published") is not None and not is_true(params.get("published")))
        if published:
            check_message(request, state, page_id, caption, natural=False)
        async with state.lock:
            photos(state)[photo.id] = photo
        if not published:
            return JSONResponse({"id": photo.id})
        post = await new_post(request, page_id, caption, [photo.id])
        return JSONResponse({"id": photo.id, "post_id": post.id})

    @router.get("/{ver}/{page_id}/feed", name="page_feed")
    async def page_feed(request: Request, page_id: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        await graph_token(platform, request, params, "pages_read_engagement")
        state = state_of(request)
        since = time_param(params.get("since"), "since")
        until = time_param(params.get("until"), "until")
        found = [
            p
            for p in reversed(posts_of(state, "facebook", page_id, since=since))
            if until is None or p.created_at <= until
        ]
        page, paging = paged(request, found, params)
        fields = top_level_fields(request, ("created_time", "message", "id"))
        return JSONResponse({"data": [post_fields(p, fields, state.now()) for p in page], "paging": paging})

    @router.get("/{ver}/{object_id}", name="object")
    async def graph_object(request: Request, object_id: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        await graph_token(platform, request, params, "pages_read_engagement")
        state = state_of(request)
        post = find_post(state, "facebook", object_id)
        if post is not None:
            return JSONResponse(
                post_fields(post, top_level_fields(request, ("id", "message", "created_time")), state.now())
            )
        photo = photos(state).get(object_id)
        if photo is None:
            raise unknown_object(object_id)
        return JSONResponse({"id": photo.id, "created_time": graph_time(photo.created_at)})

    @router.get("/{ver}/{object_id}/insights", name="insights")
    async def insights(request: Request, object_id: str, ver: str = Version) -> Response:
        params = await graph_params(request)
        await graph_token(platform, request, params, "read_insights", "pages_read_engagement")
        state = state_of(request)
        post = find_post(state, "facebook", object_id)
        if post is None:
            raise unknown_object(object_id)
        wanted = [m.strip() for m in str(params.get("metric") or "").split(",") if m.strip()]
        if not wanted or any(m not in INSIGHTS for m in wanted):
            raise PlatformError(graph_error(400, "(#100) The value must be a valid insights metric", 100))
        m = metrics_for(post, state.now())
        values = {
            "post_impressions": m["impressions"],
            "post_impressions_unique": m["impressions"] * 3 // 4,
            "post_clicks": m["likes"],
        }
        return JSONResponse({"data": [insight_row(object_id, name, values[name]) for name in wanted]})

    return router
