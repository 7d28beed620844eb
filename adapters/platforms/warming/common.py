"""What the warmers share: picking a target from a timeline, deterministically per action key (so a retried action
picks the same post or person, and liking it twice is the no-op the platforms make of it)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

from domain.channels.connectors import InvalidRequest

T = TypeVar("T")


def pick(items: Sequence[T], key: str, what: str) -> T:
    if not items:
        raise InvalidRequest(f"the timeline holds no {what} to act on")
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return items[digest % len(items)]
