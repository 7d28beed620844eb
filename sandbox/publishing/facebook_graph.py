"""Graph API plumbing shared by the Facebook and Instagram publishing imitations: parameters from the query string,
a form or a JSON body (Graph takes all three), the token from the header, the query or the body, media "fetched" from
a public URL, cursor paging, Graph timestamps, insights rows and the content that the sandbox treats as spam."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from sandbox.oauth import authenticate
from sandbox.platforms.base import Platform, PlatformError
from sandbox.platforms.graph import graph_error
from sandbox.posts import SAMPLE_MEDIA
from sandbox.state import Token

# Content containing this marker is refused as spam/abuse (Facebook 368, Instagram 2207051): the real platforms'
# classifiers cannot be reproduced, so tests trigger the refusal deliberately.
SPAM_MARKER = "[sandbox:spam]"
_SAMPLE_PATH = re.compile(r"/_sandbox/media/([^/]+)$")


async def graph_params(request: Request) -> dict[str, Any]:
    """Query parameters overlaid with the body's (form values are strings, JSON values keep their types)."""
    params: dict[str, Any] = dict(request.query_params)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if ctype == "application/json" and raw:
        try:
            body = json.loads(raw)
        except ValueError:
            raise PlatformError(graph_error(400, "(#100) Invalid JSON body", 100)) from None
        if isinstance(body, dict):
            params.update(body)
    elif raw:
        params.update({k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()})
    return params


async def graph_token(platform: Platform, request: Request, params: dict[str, Any], *scopes: str) -> Token:
    value = platform.bearer(request) or (
        params.get("access_token") if isinstance(params.get("access_token"), str) else None
    )
    token = await authenticate(request, platform, value)
    missing = [s for s in scopes if s not in token.scope.split()]
    if missing:
        raise PlatformError(graph_error(403, f"(#10) This endpoint requires the '{missing[0]}' permission.", 10))
    return token


def sample_media(url: object) -> tuple[bytes, str] | None:
    """What fetching a public media URL gives: the sandbox's own sample files, nothing else is reachable."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None
    match = _SAMPLE_PATH.search(urlsplit(url).path)
    return SAMPLE_MEDIA.get(match.group(1)) if match else None


def utf16_length(text: str) -> int:
    """Meta's backends count text in UTF-16 code units: an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le")) // 2


def is_true(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def graph_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def time_param(value: object, name: str) -> float | None:
    """`since`/`until`: a Unix timestamp or an ISO date, as Graph accepts."""
    if value is None or value == "":
        return None
    text = str(value)
    if text.isdigit():
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise PlatformError(graph_error(400, f"(#100) Invalid {name} timestamp", 100)) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def limit_param(value: object, default: int = 25, most: int = 100) -> int:
    text = str(value) if value is not None else ""
    return min(int(text), most) if text.isdigit() and int(text) > 0 else default


def cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def offset_of(after: object) -> int:
    if not after:
        return 0
    try:
        return int(base64.urlsafe_b64decode(str(after).encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise PlatformError(graph_error(400, "(#100) Invalid after cursor", 100)) from None


def paged(request: Request, items: list[Any], params: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """One page of `items` and Graph's `paging` object (cursors, and `next` while more remain)."""
    start, size = offset_of(params.get("after")), limit_param(params.get("limit"))
    page = items[start : start + size]
    paging: dict[str, Any] = {"cursors": {"before": cursor(start), "after": cursor(start + len(page))}}
    if start + size < len(items):
        query = {k: v for k, v in request.query_params.items() if k not in ("after", "access_token")}
        query["after"] = cursor(start + size)
        paging["next"] = str(request.url.replace_query_params(**query))
    return page, paging


def top_level_fields(request: Request, default: tuple[str, ...]) -> list[str]:
    """Field names of `fields=` without their modifiers: `reactions.summary(total_count).limit(0)` → reactions."""
    raw = request.query_params.get("fields")
    if not raw:
        return list(default)
    names, depth, current = [], 0, ""
    for char in raw:
        depth += char in "({"
        depth -= char in ")}"
        if char == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += char
    names.append(current)
    return [re.split(r"[.{(]", n.strip(), maxsplit=1)[0] for n in names if n.strip()]


def insight_row(object_id: str, name: str, value: int) -> dict[str, Any]:
    return {
        "name": name,
        "period": "lifetime",
        "values": [{"value": value}],
        "title": name.replace("_", " ").title(),
        "id": f"{object_id}/insights/{name}/lifetime",
    }


def unknown_object(object_id: str) -> PlatformError:
    message = (
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation."
    )
    return PlatformError(graph_error(400, message, 100, 33, kind="GraphMethodException"))
