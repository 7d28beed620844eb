"""Edits applied over what they read. A service reads a record, applies the caller's change to it, and stores the
result only if nothing changed the record meanwhile (the repositories' `expected_updated_at`). If something did (an
operator at the same moment, a health check, warming, a platform's cooldown, a deletion starting), it reads again and
applies the change again on top, so neither change is lost; after a few tries the caller gets 409 concurrent_change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from domain.identity.ports import RecordChanged

T = TypeVar("T")
R = TypeVar("R")

# Reads and writes of one edit, when other changes keep landing in between.
UPDATE_ATTEMPTS = 3


async def apply_over_read(read: Callable[[], Awaitable[T]], write: Callable[[T], Awaitable[R]]) -> R:
    """`write(record)` stores the change over `record` as read, raising RecordChanged when it is stale."""
    attempt = 1
    while True:
        current = await read()
        try:
            return await write(current)
        except RecordChanged:
            if attempt == UPDATE_ATTEMPTS:
                raise
            attempt += 1
