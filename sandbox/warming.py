"""The engagement side of the imitated platforms (account warming): a home timeline of other people's posts, and
likes, follows and favourites on them. Registered with sandbox.registry like the publishing side.

    X         GET  /2/users/{id}/timelines/reverse_chronological
              POST /2/users/{id}/likes   POST /2/users/{id}/following
    Mastodon  GET  /api/v1/timelines/home   POST /api/v1/statuses/{id}/favourite   POST /api/v1/accounts/{id}/follow
    Bluesky   GET  /xrpc/app.bsky.feed.getTimeline; likes and follows are createRecord writes (`create_engagement`,
              called by sandbox/publishing/bluesky.py for those collections)

Replies are posts: the publishing routes store them (X `reply`, Mastodon `in_reply_to_id`, a Bluesky post record with
`reply`). Every engagement is kept with the socket peer that sent it, and listed by `GET /_sandbox/engagements`."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

import sandbox.platforms  # noqa: F401 - see sandbox/publishing/bluesky.py: loads sandbox.oauth's partner first
from sandbox.context import context
from sandbox.oauth import authenticate
from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.bluesky import xrpc_error
from sandbox.posts import peer_host, state_of
from sandbox.registry import register_routes
from sandbox.state import SandboxState, Token

# The other people on each imitated network whose posts fill every home timeline.
NEIGHBOURS = 6
_KEY = "engagements"


@dataclass
class Engagement:
    platform: str
    action: str  # like | follow
    user_id: str
    target: str
    peer_host: str | None
    peer_port: int | None
    created_at: float


def engagements(state: SandboxState) -> list[Engagement]:
    found: list[Engagement] = state.extra.setdefault(_KEY, [])
    return found


async def record(request: Request, platform: str, action: str, user_id: str, target: str) -> Engagement:
    state = state_of(request)
    client = request.client
    entry = Engagement(platform, action, user_id, target, peer_host(request), client.port if client else None,
                       state.now())  # fmt: skip
    async with state.lock:
        engagements(state).append(entry)
    return entry


def neighbour_posts(platform: str) -> list[dict[str, str]]:
    """Stable posts by NEIGHBOURS other users: the same timeline for every account (ids never collide with ours)."""
    return [
        {"id": f"77000{i}", "author_id": f"66000{i}", "text": f"Neighbour {i} on {platform}: what a day."}
        for i in range(1, NEIGHBOURS + 1)
    ]


control_router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


@control_router.get("/engagements")
async def list_engagements(request: Request, platform: str | None = None) -> dict[str, list[dict[str, Any]]]:
    state = context(request).state
    return {"engagements": [asdict(e) for e in engagements(state) if platform is None or e.platform == platform]}


async def _user(request: Request, platform: Platform) -> Token:
    return await authenticate(request, platform, platform.bearer(request))


def _x_problem(status: int, detail: str) -> PlatformError:
    body = {"title": "Invalid Request", "detail": detail, "type": "about:blank", "status": status}
    return PlatformError(JSONResponse(body, status_code=status))


@register_routes("x")
def x_warming(platform: Platform) -> APIRouter:
    router = APIRouter()

    async def me(request: Request, user_id: str) -> Token:
        token = await _user(request, platform)
        if token.user_id != user_id:
            raise PlatformError(JSONResponse({"title": "Forbidden", "detail": "not your user", "status": 403}, 403))
        return token

    @router.get("/2/users/{user_id}/timelines/reverse_chronological", name="home_timeline")
    async def home_timeline(request: Request, user_id: str) -> Response:
        await me(request, user_id)
        return JSONResponse({"data": neighbour_posts("x"), "meta": {"result_count": NEIGHBOURS}})

    @router.post("/2/users/{user_id}/likes", name="like")
    async def like(request: Request, user_id: str) -> Response:
        await me(request, user_id)
        body = await request.json()
        tweet_id = body.get("tweet_id") if isinstance(body, dict) else None
        if not isinstance(tweet_id, str) or not tweet_id:
            raise _x_problem(400, "tweet_id is required")
        await record(request, "x", "like", user_id, tweet_id)
        return JSONResponse({"data": {"liked": True}})

    @router.post("/2/users/{user_id}/following", name="follow")
    async def follow(request: Request, user_id: str) -> Response:
        await me(request, user_id)
        body = await request.json()
        target = body.get("target_user_id") if isinstance(body, dict) else None
        if not isinstance(target, str) or not target:
            raise _x_problem(400, "target_user_id is required")
        await record(request, "x", "follow", user_id, target)
        return JSONResponse({"data": {"following": True, "pending_follow": False}})

    return router


@register_routes("mastodon")
def mastodon_warming(platform: Platform) -> APIRouter:
    router = APIRouter()

    def status(request: Request, post: dict[str, str]) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "id": post["id"], "content": f"<p>{post['text']}</p>", "visibility": "public",
            "url": f"{base}/mastodon/@neighbour{post['author_id']}/{post['id']}",
            "account": {"id": post["author_id"], "username": f"neighbour{post['author_id']}"},
        }  # fmt: skip

    @router.get("/api/v1/timelines/home", name="home_timeline")
    async def home_timeline(request: Request) -> Response:
        await _user(request, platform)
        return JSONResponse([status(request, p) for p in neighbour_posts("mastodon")])

    @router.post("/api/v1/statuses/{status_id}/favourite", name="favourite")
    async def favourite(request: Request, status_id: str) -> Response:
        token = await _user(request, platform)
        post = next((p for p in neighbour_posts("mastodon") if p["id"] == status_id), None)
        if post is None:
            raise PlatformError(JSONResponse({"error": "Record not found"}, status_code=404))
        await record(request, "mastodon", "like", token.user_id, status_id)
        return JSONResponse({**status(request, post), "favourited": True})

    @router.post("/api/v1/accounts/{account_id}/follow", name="follow")
    async def follow(request: Request, account_id: str) -> Response:
        token = await _user(request, platform)
        await record(request, "mastodon", "follow", token.user_id, account_id)
        return JSONResponse({"id": account_id, "following": True, "requested": False})

    return router


LIKE = "app.bsky.feed.like"
FOLLOW = "app.bsky.graph.follow"
ENGAGEMENT_COLLECTIONS = frozenset({LIKE, FOLLOW})


def bluesky_post(post: dict[str, str]) -> dict[str, Any]:
    did = f"did:plc:neighbour{post['author_id']}"
    return {
        "uri": f"at://{did}/app.bsky.feed.post/3k{post['id']}", "cid": f"bafyreineighbour{post['id']}",
        "author": {"did": did, "handle": f"neighbour{post['author_id']}.bsky.social"},
        "record": {"$type": "app.bsky.feed.post", "text": post["text"], "createdAt": "2026-01-01T00:00:00Z"},
    }  # fmt: skip


async def create_engagement(request: Request, did: str, body: dict[str, Any]) -> Response:
    """createRecord of a like or follow record (validated like the lexicons: a strong ref, or a DID subject)."""
    collection = str(body.get("collection"))
    record_value = body.get("record")
    if not isinstance(record_value, dict) or record_value.get("$type") != collection:
        raise PlatformError(xrpc_error(400, "InvalidRequest", f"Invalid {collection} record: Record/$type"))
    subject = record_value.get("subject")
    if collection == LIKE:
        ok = isinstance(subject, dict) and isinstance(subject.get("uri"), str) and isinstance(subject.get("cid"), str)
        target = str(subject.get("uri")) if isinstance(subject, dict) else ""
    else:
        ok = isinstance(subject, str) and subject.startswith("did:")
        target = str(subject)
    if not ok or not isinstance(record_value.get("createdAt"), str):
        raise PlatformError(xrpc_error(400, "InvalidRequest", f"Invalid {collection} record: Record/subject"))
    await record(request, "bluesky", "like" if collection == LIKE else "follow", did, target)
    rkey = f"3k{int(time.time() * 1_000_000):x}"
    uri = f"at://{did}/{collection}/{rkey}"
    return JSONResponse({"uri": uri, "cid": f"bafyrei{rkey}", "validationStatus": "valid"})


@register_routes("bluesky")
def bluesky_warming(platform: Platform) -> APIRouter:
    router = APIRouter()

    @router.get("/xrpc/app.bsky.feed.getTimeline", name="get_timeline")
    async def get_timeline(request: Request) -> Response:
        await _user(request, platform)
        return JSONResponse({"feed": [{"post": bluesky_post(p)} for p in neighbour_posts("bluesky")]})

    return router
