"""Bluesky: the publishing side of the imitation (a PDS's repo XRPC methods). Registered with sandbox.registry.

    POST /xrpc/com.atproto.repo.uploadBlob    raw bytes → {"blob": {"$type": "blob", "ref": {"$link": cid}, ...}}
    POST /xrpc/com.atproto.repo.createRecord  {repo, collection, rkey?, record} → {uri, cid, commit}
    GET  /xrpc/com.atproto.repo.getRecord     repo, collection, rkey → {uri, cid, value} | 400 RecordNotFound
    GET  /xrpc/app.bsky.feed.getPosts         uris → post views with like/repost/reply/quote counts

Records are validated as the app.bsky.feed.post lexicon says: text of at most 300 graphemes / 3,000 bytes, a TID
record key, image embeds (1-4) referencing blobs this account uploaded. A client-chosen rkey that already exists is
refused (400 InvalidRequest "Record already exists"): the reference PDS refuses such a write too, so a retry with the
same rkey can never make a second post. Bluesky documents no duplicate refusal: the injected `duplicate` fault
answers 400 InvalidRequest "Duplicate post" as a stand-in."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import unicodedata
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

# sandbox.oauth and sandbox.platforms import each other; this module is the first the publishing package loads, so
# loading the platforms package here lets every publishing module import sandbox.oauth.
import sandbox.platforms  # noqa: F401
from sandbox import warming
from sandbox.oauth import authenticate
from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.bluesky import xrpc_error
from sandbox.posts import add_media, injected_duplicate, metrics_for, peer_host, posts_of, state_of
from sandbox.registry import register_routes
from sandbox.state import SandboxMedia, SandboxPost, SandboxState, Token

POST_COLLECTION = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000
WRITE_POINTS_PER_HOUR = 5000
CREATE_COST = 3
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_B32 = "234567abcdefghijklmnopqrstuvwxyz"


def _invalid(message: str, error: str = "InvalidRequest") -> PlatformError:
    return PlatformError(xrpc_error(400, error, message))


def _cid(prefix: str, data: bytes) -> str:
    return prefix + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")


def new_tid(now: float) -> str:
    """A TID: 53 bits of microseconds then 10 bits of clock id, in base32-sortable."""
    value = (int(now * 1_000_000) << 10) | (time.monotonic_ns() & 0x3FF)
    return "".join(_B32[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def graphemes(text: str) -> int:
    """Approximate user-perceived characters: combining marks, variation selectors, skin tones and whatever a
    zero-width joiner glues on do not start a new one."""
    count, joined = 0, False
    for char in text:
        point = ord(char)
        extends = (
            unicodedata.combining(char)
            or 0xFE00 <= point <= 0xFE0F
            or 0x1F3FB <= point <= 0x1F3FF
            or 0xE0020 <= point <= 0xE007F
        )
        if char == "\u200d":
            joined = True
            continue
        if not extends and not joined:
            count += 1
        joined = False
    return count


class BlueskyPublishing:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def token(self, request: Request) -> Token:
        return await authenticate(request, self.platform, self.platform.bearer(request))

    def owns(self, request: Request, token: Token, repo: object) -> bool:
        user = self.platform.cfg(request).user
        return token.user_id == user.id and repo in (user.id, user.handle)

    def record(self, state: SandboxState, did: str, collection: str, rkey: str) -> SandboxPost | None:
        for post in state.posts:
            if post.platform == self.platform.name and post.user_id == did and post.key == f"{collection}/{rkey}":
                return post if not post.deleted else None
        return None

    def validate(self, state: SandboxState, did: str, record: object) -> dict[str, Any]:
        if not isinstance(record, dict) or record.get("$type") != POST_COLLECTION:
            raise _invalid(f"Invalid {POST_COLLECTION} record: Record/$type must be {POST_COLLECTION}")
        text, created = record.get("text"), record.get("createdAt")
        if not isinstance(text, str) or not isinstance(created, str):
            raise _invalid(f"Invalid {POST_COLLECTION} record: Record must have the properties text and createdAt")
        if graphemes(text) > MAX_GRAPHEMES or len(text.encode()) > MAX_TEXT_BYTES:
            raise _invalid(
                f"Invalid {POST_COLLECTION} record: Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
            )
        embed = record.get("embed")
        if embed is not None:
            self.validate_images(state, did, embed)
        return record

    def validate_images(self, state: SandboxState, did: str, embed: object) -> None:
        if not isinstance(embed, dict) or embed.get("$type") != "app.bsky.embed.images":
            raise _invalid("Invalid app.bsky.feed.post record: this sandbox knows only app.bsky.embed.images embeds")
        images = embed.get("images")
        if not isinstance(images, list) or not 1 <= len(images) <= MAX_IMAGES:
            raise _invalid(f"Invalid app.bsky.feed.post record: Record/embed/images must have 1-{MAX_IMAGES} items")
        for item in images:
            ref = item.get("image") if isinstance(item, dict) else None
            link = ref.get("ref", {}).get("$link") if isinstance(ref, dict) else None
            blob = state.media.get(str(link))
            if not isinstance(item, dict) or not isinstance(item.get("alt"), str):
                raise _invalid("Invalid app.bsky.feed.post record: Record/embed/images/alt must be a string")
            if blob is None or blob.platform != self.platform.name or blob.user_id != did:
                raise _invalid(f"Could not find blob: {link}", "BlobNotFound")
            if blob.size > MAX_IMAGE_BYTES:
                raise _invalid("Invalid app.bsky.feed.post record: image is too large", "BlobTooLarge")

    def rate_headers(self, state: SandboxState, did: str) -> dict[str, str]:
        now = state.now()
        spent = CREATE_COST * len(posts_of(state, self.platform.name, did, since=now - 3600))
        return {
            "RateLimit-Limit": str(WRITE_POINTS_PER_HOUR),
            "RateLimit-Remaining": str(max(0, WRITE_POINTS_PER_HOUR - spent)),
            "RateLimit-Reset": str(int(now + 3600)),
            "RateLimit-Policy": f"{WRITE_POINTS_PER_HOUR};w=3600",
        }

    def view(self, request: Request, post: SandboxPost) -> dict[str, Any]:
        user = self.platform.cfg(request).user
        counters = metrics_for(post, state_of(request).now())
        return {
            "uri": post.id,
            "cid": post.extra["cid"],
            "author": {"did": user.id, "handle": user.handle, "displayName": user.name},
            "record": post.extra["record"],
            "likeCount": counters["likes"],
            "repostCount": counters["reposts"],
            "replyCount": counters["replies"],
            "quoteCount": counters["quotes"],
            "indexedAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(post.created_at)),
        }


async def _json(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise _invalid("Request encoding (Content-Type) required but not provided")
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise _invalid("Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("Request body must be an object")
    return body


def _rkey(body: dict[str, Any], now: float) -> str:
    rkey = body.get("rkey")
    if rkey is None:
        return new_tid(now)
    if not isinstance(rkey, str) or not _RKEY.match(rkey) or rkey in (".", ".."):
        raise _invalid("Invalid record key")
    if not _TID.match(rkey):  # the app.bsky.feed.post lexicon says "key": "tid"
        raise _invalid(f"Invalid record key for {POST_COLLECTION}: must be a TID")
    return rkey


@register_routes("bluesky")
def bluesky_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()
    pub = BlueskyPublishing(platform)

    @router.post("/xrpc/com.atproto.repo.uploadBlob", name="upload_blob")
    async def upload_blob(request: Request) -> Response:
        token = await pub.token(request)
        mime = request.headers.get("content-type", "").split(";")[0].strip()
        data = await request.body()
        if not mime or not data:
            raise _invalid("Request encoding (Content-Type) required but not provided")
        state = state_of(request)
        cid = _cid("bafkrei", data)
        now = state.now()
        blob = SandboxMedia(platform.name, cid, token.user_id, mime, len(data), now, now)
        await add_media(state, blob)
        return JSONResponse({"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(data)}})

    @router.post("/xrpc/com.atproto.repo.createRecord", name="create_record")
    async def create_record(request: Request) -> Response:
        token = await pub.token(request)
        body = await _json(request)
        if not pub.owns(request, token, body.get("repo")):
            raise _invalid("Invalid repo: the session may only write to its own repo")
        if body.get("collection") in warming.ENGAGEMENT_COLLECTIONS:  # likes and follows: sandbox/warming.py
            return await warming.create_engagement(request, token.user_id, body)
        if body.get("collection") != POST_COLLECTION:
            raise _invalid(f"This sandbox stores only {POST_COLLECTION} records")
        state = state_of(request)
        did = token.user_id
        rkey = _rkey(body, state.now())
        record = pub.validate(state, did, body.get("record"))
        if injected_duplicate(request, platform.name):
            raise _invalid("Duplicate post")
        uri = f"at://{did}/{POST_COLLECTION}/{rkey}"
        cid = _cid("bafyrei", json.dumps(record, sort_keys=True).encode())
        images = (record.get("embed") or {}).get("images") or []
        post = SandboxPost(
            platform=platform.name,
            id=uri,
            user_id=did,
            text=str(record["text"]),
            created_at=state.now(),
            media_ids=[str(i["image"]["ref"]["$link"]) for i in images],
            url=f"https://bsky.app/profile/{did}/post/{rkey}",
            key=f"{POST_COLLECTION}/{rkey}",
            peer_host=peer_host(request),
            extra={"cid": cid, "record": record, "rkey": rkey},
        )
        async with state.lock:  # check and insert together: two writes of one rkey make one record
            if pub.record(state, did, POST_COLLECTION, rkey) is not None:
                raise _invalid(f"Record already exists: {uri}")
            state.posts.append(post)
        answer = {"uri": uri, "cid": cid, "commit": {"cid": _cid("bafyrei", uri.encode()), "rev": new_tid(state.now())}}
        return JSONResponse({**answer, "validationStatus": "valid"}, headers=pub.rate_headers(state, did))

    @router.get("/xrpc/com.atproto.repo.getRecord", name="get_record")
    async def get_record(request: Request, repo: str, collection: str, rkey: str) -> Response:
        # Repos are public: no session needed to read a record.
        user = platform.cfg(request).user
        did = user.id if repo in (user.id, user.handle) else repo
        post = pub.record(state_of(request), did, collection, rkey)
        uri = f"at://{did}/{collection}/{rkey}"
        if post is None:
            raise _invalid(f"Could not locate record: {uri}", "RecordNotFound")
        return JSONResponse({"uri": uri, "cid": post.extra["cid"], "value": post.extra["record"]})

    @router.get("/xrpc/app.bsky.feed.getPosts", name="get_posts")
    async def get_posts(request: Request) -> Response:
        await pub.token(request)
        uris = request.query_params.getlist("uris")
        if not 1 <= len(uris) <= 25:
            raise _invalid("uris must list 1-25 AT URIs")
        state = state_of(request)
        found = [p for p in state.posts if p.platform == platform.name and p.id in uris and not p.deleted]
        return JSONResponse({"posts": [pub.view(request, p) for p in found]})

    return router
