"""LinkedIn Posts API, publishing side: `POST /rest/posts` (201, empty body, the post URN in `x-restli-id`), the
author finder `GET /rest/posts?q=author` the adapter searches before a retry, the Images API (initializeUpload →
PUT the bytes to the upload URL → poll `GET /rest/images/{urn}` until AVAILABLE) and `GET /rest/socialActions/{urn}`.

Every /rest call needs a `Linkedin-Version: YYYYMM` header. Commentary is "little text": reserved characters arrive
backslash-escaped and hashtags as `{hashtag|\\#|tag}`; a post's text (what members see) is the unescaped form.
Errors: 422 `DUPLICATE_POST` for the same commentary twice, 422 input errors for validation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from sandbox.oauth import authenticate
from sandbox.platforms.base import Platform, PlatformError
from sandbox.posts import add_post, find_post, injected_duplicate, metrics_for, next_id, peer_host, posts_of, state_of
from sandbox.registry import register_routes
from sandbox.state import SandboxPost, SandboxState, Token

MAX_COMMENTARY = 3000
MAX_IMAGES = 20
PROCESSING_S = 0.2  # an uploaded image stays PROCESSING this long
UPLOAD_URL_TTL_S = 3600
_VERSION = re.compile(r"^20\d{4}(\.\d{2})?$")
_ESCAPED = re.compile(r"\\(.)")
_HASHTAG = re.compile(r"\{hashtag\|\\#\|([^}]*)\}")


@dataclass
class Image:
    urn: str
    owner: str
    created_at: float
    uploaded_at: float | None = None
    size: int = 0

    def status(self, now: float) -> str:
        if self.uploaded_at is None:
            return "WAITING_UPLOAD"
        return "AVAILABLE" if now >= self.uploaded_at + PROCESSING_S else "PROCESSING"


def error(status: int, message: str, code: str | None = None, **extra: Any) -> PlatformError:
    body: dict[str, Any] = {"status": status, "message": message, **extra}
    if code is not None:
        body["code"] = code
    return PlatformError(JSONResponse(body, status_code=status))


def input_error(path: str, code: str, description: str) -> PlatformError:
    details = {"inputErrors": [{"code": code, "description": description, "input": {"inputPath": {"fieldPath": path}}}]}
    return error(422, f"ERROR :: {path} :: {description}", "UNPROCESSABLE_ENTITY", errorDetails=details)


def member_text(commentary: str) -> str:
    """What members read: hashtag templates as #tag, escapes removed."""
    return _ESCAPED.sub(r"\1", _HASHTAG.sub(r"#\1", commentary))


def utf16_length(text: str) -> int:
    """LinkedIn's backend counts UTF-16 code units: an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le")) // 2


def person(token: Token) -> str:
    return f"urn:li:person:{token.user_id}"


def images(state: SandboxState) -> dict[str, Image]:
    found: dict[str, Image] = state.extra.setdefault("linkedin.images", {})
    return found


def post_json(post: SandboxPost) -> dict[str, Any]:
    millis = int(post.created_at * 1000)
    body: dict[str, Any] = {
        "id": post.id,
        "author": post.extra["author"],
        "commentary": post.extra["commentary"],
        "visibility": "PUBLIC",
        "lifecycleState": "PUBLISHED",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "createdAt": millis,
        "publishedAt": millis,
        "lastModifiedAt": millis,
        "isReshareDisabledByAuthor": False,
    }
    if post.extra.get("content"):
        body["content"] = post.extra["content"]
    return body


async def body_of(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise error(400, "Request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise error(400, "Request body must be a JSON object")
    return body


def check_version(request: Request) -> None:
    version = request.headers.get("linkedin-version")
    if not version:
        raise error(
            400,
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
            "VERSION_MISSING",
        )
    if not _VERSION.match(version):
        raise error(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION")


def check_post(body: dict[str, Any], token: Token) -> str:
    """The commentary of a valid post body; LinkedIn's refusals otherwise."""
    for name in ("author", "visibility", "distribution", "lifecycleState"):
        if name not in body:
            raise input_error(f"/{name}", "FIELD_REQUIRED", f"Field /{name} is required")
    if body["author"] != person(token):
        raise error(403, f"Not enough permissions to create a post as {body['author']}", "ACCESS_DENIED")
    if "w_member_social" not in token.scope.split():
        raise error(403, "Not enough permissions to access: partnerApiPostsExternal.CREATE", "ACCESS_DENIED")
    commentary = body.get("commentary") or ""
    if not isinstance(commentary, str):
        raise input_error("/commentary", "INVALID_TYPE", "commentary must be a string")
    if utf16_length(member_text(commentary)) > MAX_COMMENTARY:
        raise input_error("/commentary", "MAX_LENGTH_EXCEEDED", f"Text length exceeds max {MAX_COMMENTARY}")
    return commentary


def content_images(body: dict[str, Any]) -> list[str]:
    content = body.get("content")
    if not isinstance(content, dict):
        return []
    if isinstance(content.get("media"), dict):
        return [str(content["media"].get("id"))]
    multi = content.get("multiImage")
    if isinstance(multi, dict) and isinstance(multi.get("images"), list):
        return [str(i.get("id")) for i in multi["images"] if isinstance(i, dict)]
    raise input_error("/content", "INVALID_VALUE", "Unsupported content")


def check_images(state: SandboxState, urns: list[str], token: Token) -> None:
    if len(urns) > MAX_IMAGES:
        raise input_error("/content/multiImage/images", "MAX_LENGTH_EXCEEDED", f"At most {MAX_IMAGES} images")
    now = state.now()
    for urn in urns:
        image = images(state).get(urn)
        if image is None or image.owner != person(token):
            raise input_error("/content/media/id", "INVALID_VALUE", f"Image {urn} does not exist")
        if image.status(now) != "AVAILABLE":
            raise input_error("/content/media/id", "INVALID_VALUE", f"Image {urn} is {image.status(now)}")


def duplicate_of(state: SandboxState, author: str, commentary: str) -> SandboxPost | None:
    for post in reversed(state.posts):
        same = post.extra.get("commentary") == commentary and post.extra.get("author") == author
        if post.platform == "linkedin" and not post.deleted and same:
            return post
    return None


@register_routes("linkedin")
def linkedin_publishing(platform: Platform) -> APIRouter:
    router = APIRouter()

    async def authed(request: Request, *, versioned: bool = True) -> Token:
        token = await authenticate(request, platform, platform.bearer(request))
        if versioned:
            check_version(request)
        return token

    @router.post("/rest/posts", name="create_post", status_code=201)
    async def create_post(request: Request) -> Response:
        token = await authed(request)
        body = await body_of(request)
        commentary = check_post(body, token)
        state = state_of(request)
        urns = content_images(body)
        check_images(state, urns, token)
        if not commentary.strip() and not urns:
            raise input_error("/commentary", "FIELD_REQUIRED", "A post needs commentary or content")
        earlier = duplicate_of(state, body["author"], commentary) if commentary.strip() else None
        if injected_duplicate(request, "linkedin") or earlier is not None:
            urn = earlier.id if earlier else "urn:li:share:0"
            raise error(422, f"Content is a duplicate of {urn}", "DUPLICATE_POST")
        urn = f"urn:li:share:{next_id()}"
        post = SandboxPost(
            platform="linkedin",
            id=urn,
            user_id=token.user_id,
            text=member_text(commentary),
            created_at=state.now(),
            media_ids=urns,
            url=f"https://www.linkedin.com/feed/update/{urn}",
            peer_host=peer_host(request),
            extra={"author": body["author"], "commentary": commentary, "content": body.get("content")},
        )
        await add_post(state, post)
        return Response(status_code=201, headers={"x-restli-id": urn, "x-linkedin-id": urn})

    @router.get("/rest/posts", name="find_posts")
    async def find_posts(request: Request) -> Response:
        await authed(request)
        q = request.query_params
        if q.get("q") != "author" or not q.get("author"):
            raise error(400, "Finder q=author with an author is required", "ILLEGAL_ARGUMENT")
        author = q["author"]
        start, count = _int(q.get("start"), 0), min(_int(q.get("count"), 10), 100)
        state = state_of(request)
        mine = [p for p in posts_of(state, "linkedin", author.rsplit(":", 1)[-1]) if p.extra.get("author") == author]
        ordered = sorted(mine, key=lambda p: p.created_at, reverse=True)  # CREATED and LAST_MODIFIED agree here
        page = ordered[start : start + count]
        links = []
        if start + count < len(ordered):
            href = f"/rest/posts?q=author&author={quote(author)}&start={start + count}&count={count}"
            links.append({"rel": "next", "type": "application/json", "href": href})
        paging = {"start": start, "count": count, "total": len(ordered), "links": links}
        return JSONResponse({"elements": [post_json(p) for p in page], "paging": paging})

    @router.post("/rest/images", name="initialize_image_upload")
    async def initialize_upload(request: Request) -> Response:
        token = await authed(request)
        if request.query_params.get("action") != "initializeUpload":
            raise error(400, "action=initializeUpload is required", "ILLEGAL_ARGUMENT")
        body = (await body_of(request)).get("initializeUploadRequest") or {}
        owner = body.get("owner") if isinstance(body, dict) else None
        if owner != person(token):
            raise error(403, f"Not enough permissions to upload as {owner}", "ACCESS_DENIED")
        state = state_of(request)
        image = Image(f"urn:li:image:C4E{next_id()}", owner, state.now())
        async with state.lock:
            images(state)[image.urn] = image
        upload_url = f"{str(request.base_url).rstrip('/')}/linkedin/dms-uploads/{quote(image.urn, safe='')}"
        value = {
            "uploadUrlExpiresAt": int((state.now() + UPLOAD_URL_TTL_S) * 1000),
            "uploadUrl": upload_url,
            "image": image.urn,
        }
        return JSONResponse({"value": value})

    @router.put("/dms-uploads/{urn}", name="image_upload", status_code=201)
    async def upload(request: Request, urn: str) -> Response:
        token = await authed(request, versioned=False)  # the upload URL is not a /rest endpoint
        state = state_of(request)
        image = images(state).get(urn)
        if image is None or image.owner != person(token):
            raise error(404, f"No pending upload for {urn}")
        content = await request.body()
        if not content:
            raise error(400, "Empty upload")
        image.size, image.uploaded_at = len(content), state.now()
        return Response(status_code=201)

    @router.get("/rest/images/{urn}", name="image")
    async def image_status(request: Request, urn: str) -> Response:
        await authed(request)
        state = state_of(request)
        image = images(state).get(urn)
        if image is None:
            raise error(404, f"Image {urn} does not exist", "NOT_FOUND")
        status = image.status(state.now())
        body: dict[str, Any] = {"id": urn, "owner": image.owner, "status": status}
        if status == "AVAILABLE":
            body["downloadUrl"] = f"https://media.licdn.invalid/dms/image/{quote(urn, safe='')}"
        return JSONResponse(body)

    @router.get("/rest/socialActions/{urn}", name="social_actions")
    async def social_actions(request: Request, urn: str) -> Response:
        await authed(request)
        state = state_of(request)
        post = find_post(state, "linkedin", urn)
        if post is None:
            raise error(404, f"{urn} does not exist", "NOT_FOUND")
        m = metrics_for(post, state.now())
        return JSONResponse(
            {
                "target": urn,
                "likesSummary": {"totalLikes": m["likes"], "likedByCurrentUser": False},
                "commentsSummary": {"aggregatedTotalComments": m["replies"], "totalFirstLevelComments": m["replies"]},
            }
        )

    return router


def _int(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit():
        raise error(400, f"Invalid integer {value!r}", "ILLEGAL_ARGUMENT")
    return int(value)
