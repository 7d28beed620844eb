"""Mastodon helpers of the sandbox: multipart form parsing (the sandbox has no python-multipart) and the JSON shapes
of statuses and media attachments, with content rendered to HTML the way Mastodon renders it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from sandbox.posts import metrics_for
from sandbox.state import SandboxMedia, SandboxPost

_URL = re.compile(r"https?://[^\s<>\"']+")
_MENTION = re.compile(r"@([A-Za-z0-9_]+)(?:@[A-Za-z0-9.-]+)?")
_TOKEN = re.compile(
    r"(?P<url>https?://[^\s<>\"']+)|(?<![\w@])@(?P<user>[A-Za-z0-9_]+)(?:@(?P<host>[A-Za-z0-9.-]+\.[A-Za-z]+))?"
)
URL_CHARS = 23  # every link counts as 23 characters, whatever its length


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def multipart(content_type: str, body: bytes) -> dict[str, Part] | None:
    """The parts of a multipart/form-data body by field name, or None if it is not one."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None
    parts: dict[str, Part] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts[name] = Part(name, part.get_filename(), part.get_content_type(), data)
    return parts


def character_count(text: str) -> int:
    """Mastodon's count: links weigh 23, a remote mention only its username part."""
    counted = _URL.sub("x" * URL_CHARS, text)
    return len(_MENTION.sub(lambda m: "@" + m.group(1), counted))


def _mention(match: re.Match[str]) -> str:
    # Mastodon shows a mention it resolved by username only, local or remote.
    user, host = html.escape(match["user"]), html.escape(match["host"] or "local")
    link = f'<a href="https://{host}/@{user}" class="u-url mention">@<span>{user}</span></a>'
    return f'<span class="h-card">{link}</span>'


def _link(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{html.escape(url)}" rel="nofollow noopener" target="_blank">'
        f'<span class="invisible">{html.escape(scheme)}://</span><span class="">{html.escape(rest)}</span></a>'
    )


def render(text: str) -> str:
    """Plain text → Mastodon's status HTML: paragraphs, <br /> for line breaks, links wrapped in spans."""
    paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p]

    def line(raw: str) -> str:
        out, last = [], 0
        for match in _TOKEN.finditer(raw):
            out += [html.escape(raw[last : match.start()]), _link(match.group()) if match["url"] else _mention(match)]
            last = match.end()
        return "".join([*out, html.escape(raw[last:])])

    return "".join("<p>" + "<br />".join(line(r) for r in p.split("\n")) + "</p>" for p in paragraphs)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def attachment(media: SandboxMedia, base: str, description: str | None, now: float) -> dict[str, Any]:
    ready = media.status(now) == "succeeded"
    kind = media.content_type.split("/")[0]
    return {
        "id": media.id,
        "type": {"image": "image", "video": "video"}.get(kind, "unknown"),
        "url": f"{base}/system/media_attachments/{media.id}/original" if ready else None,
        "preview_url": f"{base}/system/media_attachments/{media.id}/small",
        "remote_url": None,
        "description": description,
        "blurhash": "UEHLh[WB2yk8pyoJadR*.7kCMdnj" if ready else None,
        "meta": {},
    }


def status_json(post: SandboxPost, base: str, handle: str, now: float) -> dict[str, Any]:
    counters = metrics_for(post, now)
    return {
        "id": post.id,
        "created_at": iso(post.created_at),
        "in_reply_to_id": None,
        "sensitive": post.extra.get("sensitive", False),
        "spoiler_text": post.extra.get("spoiler_text", ""),
        "visibility": post.extra.get("visibility", "public"),
        "language": post.extra.get("language"),
        "uri": f"{base}/users/{handle}/statuses/{post.id}",
        "url": post.url,
        "replies_count": counters["replies"],
        "reblogs_count": counters["reposts"],
        "favourites_count": counters["likes"],
        "quotes_count": counters["quotes"],
        "content": render(post.text),
        "account": {"id": post.user_id, "username": handle, "acct": handle, "url": f"{base}/@{handle}"},
        "media_attachments": post.extra.get("attachments", []),
        "application": {"name": "Souls", "website": None},
    }
