"""The eight platforms and how each writes a handle."""

from __future__ import annotations

import enum
import re

from domain.errors import InvalidInput


class Platform(enum.StrEnum):
    X = "x"
    LINKEDIN = "linkedin"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    TIKTOK = "tiktok"
    THREADS = "threads"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"

    @classmethod
    def parse(cls, value: object) -> Platform:
        if isinstance(value, Platform):
            return value
        text = str(value).strip().lower()
        text = _ALIASES.get(text, text)
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(p.value for p in cls)
            raise InvalidInput(
                f"Unknown platform {value!r}; use one of {allowed} (twitter is accepted for x).",
                field="platform",
                code="unknown_platform",
            ) from None


_ALIASES = {"twitter": "x", "x.com": "x"}

_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HANDLE_RULES: dict[Platform, tuple[re.Pattern[str], str]] = {
    Platform.X: (re.compile(r"[a-z0-9_]{1,15}"), "1-15 letters, digits or underscores"),
    Platform.INSTAGRAM: (re.compile(r"(?!.*\.\.)(?!\.)[a-z0-9._]{1,30}(?<!\.)"), "1-30 letters, digits, periods, _"),
    Platform.THREADS: (re.compile(r"(?!.*\.\.)(?!\.)[a-z0-9._]{1,30}(?<!\.)"), "1-30 letters, digits, periods, _"),
    Platform.TIKTOK: (re.compile(r"(?!\.)[a-z0-9._]{2,24}(?<!\.)"), "2-24 letters, digits, periods or _"),
    Platform.FACEBOOK: (re.compile(r"[a-z0-9.]{5,50}"), "5-50 letters, digits or periods"),
    Platform.LINKEDIN: (re.compile(r"[a-z0-9-]{3,100}"), "3-100 letters, digits or hyphens"),
    Platform.BLUESKY: (re.compile(_DOMAIN), "a domain name such as alice.bsky.social"),
    Platform.MASTODON: (re.compile(r"[a-z0-9_]{1,30}@" + _DOMAIN), "user@instance, such as alice@mastodon.social"),
}


def normalize_handle(platform: Platform, raw: str) -> str:
    """Lower-case, without a leading '@', and valid for the platform; raises InvalidInput naming `handle`."""
    handle = raw.strip().lower()
    if handle.startswith("@"):
        handle = handle[1:]
    pattern, rule = _HANDLE_RULES[platform]
    if len(handle) > 253 or not pattern.fullmatch(handle):
        raise InvalidInput(
            f"{raw!r} is not a valid {platform.value} handle: {rule}.", field="handle", code="invalid_handle"
        )
    return handle
