"""X API v2, publishing side: `POST /2/tweets`, the user timeline the adapter searches before a retry, the tweet
lookup with `public_metrics`, and media upload (sandbox/publishing/x_media.py).

Like X: 280 weighted characters, 403 "duplicate content" for the same text twice, 100 posts per 15 minutes per user
(429 with `x-rate-limit-*` headers, no Retry-After), and tweet texts read back HTML-escaped with every URL turned into
a t.co link (plus one trailing t.co link for attached media), so a client matching texts must normalise them."""

from __future__ import annotations

import html
import json
import re
import unicodedata
import zlib
from datetime import UTC, datetime
from typing import Any

import regex
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.oauth import authenticate
from sandbox.platforms.base import Platform, PlatformError, epoch_in
from sandbox.posts import (
    add_post,
    find_post,
    injected_duplicate,
    metrics_for,
    next_id,
    peer_host,
    posts_of,
    same_text_post,
    state_of,
)
from sandbox.publishing.x_media import media_router
from sandbox.registry import register_routes
from sandbox.state import SandboxPost, SandboxState, Token

MAX_WEIGHT = 280
MAX_MEDIA = 4
POSTS_PER_WINDOW = 100
WINDOW_S = 15 * 60
URL_RE = re.compile(r"https?://\S+", re.IGNORECASE)
# twitter-text v3: these code point ranges weigh 1, everything else (CJK, emoji...) 2; a URL always weighs 23.
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_CLUSTER = regex.compile(r"\X")
# A cluster is an emoji when it holds a pictograph of the emoji planes, an emoji presentation selector or a keycap;
# a lone text symbol such as "©" is weighed by its code point.
_EMOJI = regex.compile("[\U0001f000-\U0001faff\ufe0f\u20e3]")
_INVALID = "https://api.twitter.com/2/problems/invalid-request"
_FORBIDDEN = "https://api.twitter.com/2/problems/client-forbidden"


def problem(status: int, title: str, detail: str, kind: str = "about:blank", **extra: Any) -> JSONResponse:
    return JSONResponse({"title": title, "detail": detail, "type": kind, "status": status, **extra}, status)


def invalid(message: str, parameter: str, value: object) -> PlatformError:
    body = problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        _INVALID,
        errors=[{"parameters": {parameter: [value]}, "message": message}],
    )
    return PlatformError(body)


def forbidden(detail: str) -> PlatformError:
    return PlatformError(problem(403, "Forbidden", detail))


def weighted_length(text: str) -> int:
    """twitter-text v3: after NFC, each URL 23, each emoji (a whole ZWJ/flag/keycap sequence) 2, other code points
    1 or 2 by range."""
    text = unicodedata.normalize("NFC", text)
    weight = 23 * len(URL_RE.findall(text))
    for cluster in _CLUSTER.findall(URL_RE.sub("", text)):
        if _EMOJI.search(cluster):
            weight += 2
        else:
            weight += sum(1 if any(low <= ord(c) <= high for low, high in _LIGHT) else 2 for c in cluster)
    return weight


def tco(url: str) -> str:
    return f"https://t.co/{zlib.crc32(url.encode()):010x}"


def display_text(post: SandboxPost) -> str:
    """The text as X returns it: HTML-escaped, URLs shortened, a media link appended."""
    shown = URL_RE.sub(lambda m: tco(m.group(0)), html.escape(post.text, quote=False))
    if post.media_ids:
        shown = f"{shown} {tco('media:' + post.id)}".strip()
    return shown


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def parse_time(value: str | None, name: str) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid(f"Invalid {name}", name, value) from None


def require_scope(token: Token, *scopes: str) -> None:
    missing = [s for s in scopes if s not in token.scope.split()]
    if missing:
        raise PlatformError(problem(403, "Forbidden", f"Missing scope {' '.join(missing)}", _FORBIDDEN))


def tweet_json(post: SandboxPost, fields: set[str], now: float) -> dict[str, Any]:
    data: dict[str, Any] = {"id": post.id, "text": display_text(post), "edit_history_tweet_ids": [post.id]}
    if "created_at" in fields:
        data["created_at"] = iso(post.created_at)
    if "author_id" in fields:
        data["author_id"] = post.user_id
    if "public_metrics" in fields:
        m = metrics_for(post, now)
        data["public_metrics"] = {
            "retweet_count": m["reposts"],
            "reply_count": m["replies"],
            "like_count": m["likes"],
            "quote_count": m["quotes"],
            "bookmark_count": m["saves"],
            "impression_count": m["impressions"],
        }
    return data


def fields_of(request: Request) -> set[str]:
    return {f.strip() for f in ",".join(request.query_params.getlist("tweet.fields")).split(",") if f.strip()}


async def read_json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise PlatformError(problem(400, "Invalid Request", "Request body is not valid JSON", _INVALID)) from None
    if not isinstance(body, dict):
        raise PlatformError(problem(400, "Invalid Request", "Request body must be a JSON object", _INVALID))
    return body


def media_ids_of(body: dict[str, Any]) -> list[str]:
    media = body.get("media") or {}
    ids = media.get("media_ids") if isinstance(media, dict) else None
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise invalid("media_ids must be an array of strings", "media.media_ids", ids)
    return ids


def check_media(state: SandboxState, user_id: str, ids: list[str]) -> None:
    if len(ids) > MAX_MEDIA:
        raise invalid(f"At most {MAX_MEDIA} media ids are allowed", "media.media_ids", ids)
    now = state.now()
    for media_id in ids:
        media = state.media.get(media_id)
        if media is None or media.platform != "x" or media.user_id != user_id:
            raise invalid(f"Media id {media_id} was not found", "media.media_ids", media_id)
        if media.status(now) != "succeeded":
            raise invalid(f"Media id {media_id} is not ready (processing)", "media.media_ids", media_id)
    kinds = {state.media[i].content_type for i in ids}
    if len(ids) > 1 and any(not k.startswith("image/") or k == "image/gif" for k in kinds):
        raise invalid("A GIF or a video must be the only media of a post", "media.media_ids", ids)


def check_text(text: str, has_media: bool) -> None:
    if not text.strip() and not has_media:
        raise invalid("Post text or media is required", "text", text)
    if weighted_length(text) > MAX_WEIGHT:
        raise forbidden(
            "Your Tweet text is too long. For more information on how X determines text length, see "
            "https://github.com/twitter/twitter-text."
        )


def rate_headers(state: SandboxState, user_id: str) -> dict[str, str]:
    now = state.now()
    recent = posts_of(state, "x", user_id, since=now - WINDOW_S)
    reset = min((p.created_at for p in recent), default=now) + WINDOW_S
    return {
        "x-rate-limit-limit": str(POSTS_PER_WINDOW),
        "x-rate-limit-remaining": str(max(0, POSTS_PER_WINDOW - len(recent))),
        "x-rate-limit-reset": str(epoch_in(0, reset)),
    }


@register_routes("x")
def x_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()

    @router.post("/2/tweets", name="create_tweet", status_code=201)
    async def create_tweet(request: Request) -> Response:
        token = await authenticate(request, platform, platform.bearer(request))
        require_scope(token, "tweet.write")
        state = state_of(request)
        headers = rate_headers(state, token.user_id)
        if headers["x-rate-limit-remaining"] == "0":
            response = platform.rate_limited(0, state.now())
            response.headers.update(headers)
            raise PlatformError(response)
        body = await read_json(request)
        text = body.get("text") or ""
        if not isinstance(text, str):
            raise invalid("text must be a string", "text", text)
        ids = media_ids_of(body)
        check_media(state, token.user_id, ids)
        check_text(text, bool(ids))
        if injected_duplicate(request, "x") or (text.strip() and same_text_post(state, "x", token.user_id, text)):
            raise forbidden("You are not allowed to create a Tweet with duplicate content.")
        handle = platform.cfg(request).user.handle
        post_id = next_id()
        post = SandboxPost(
            platform="x",
            id=post_id,
            user_id=token.user_id,
            text=text,
            created_at=state.now(),
            media_ids=ids,
            url=f"https://x.com/{handle}/status/{post_id}",
            peer_host=peer_host(request),
        )
        await add_post(state, post)
        data = {"id": post.id, "text": display_text(post), "edit_history_tweet_ids": [post.id]}
        return JSONResponse({"data": data}, status_code=201, headers=rate_headers(state, token.user_id))

    @router.get("/2/users/{user_id}/tweets", name="user_tweets")
    async def user_tweets(request: Request, user_id: str) -> Response:
        token = await authenticate(request, platform, platform.bearer(request))
        require_scope(token, "tweet.read", "users.read")
        state = state_of(request)
        q = request.query_params
        start = parse_time(q.get("start_time"), "start_time")
        end = parse_time(q.get("end_time"), "end_time")
        size = _int_param(q.get("max_results"), "max_results", 10, 5, 100)
        offset = _int_param(q.get("pagination_token"), "pagination_token", 0, 0, 10**9)
        found = [p for p in reversed(posts_of(state, "x", user_id, since=start)) if end is None or p.created_at < end]
        page = found[offset : offset + size]
        fields = fields_of(request)
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if offset + size < len(found):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [tweet_json(p, fields, state.now()) for p in page]
        return JSONResponse(body)

    @router.get("/2/tweets/{tweet_id}", name="tweet")
    async def tweet(request: Request, tweet_id: str) -> Response:
        token = await authenticate(request, platform, platform.bearer(request))
        require_scope(token, "tweet.read", "users.read")
        state = state_of(request)
        post = find_post(state, "x", tweet_id)
        if post is None:
            # X answers a missing tweet with 200 and an `errors` array, not a 404.
            error = {
                "value": tweet_id,
                "detail": f"Could not find tweet with id: [{tweet_id}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "id",
                "resource_id": tweet_id,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            return JSONResponse({"errors": [error]})
        return JSONResponse({"data": tweet_json(post, fields_of(request), state.now())})

    router.include_router(media_router(platform))
    return router


def _int_param(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise invalid(f"{name} must be between {low} and {high}", name, value)
    return int(value)
