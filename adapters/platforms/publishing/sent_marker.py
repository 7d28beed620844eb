"""Exactly once for platforms without an idempotency key (X, LinkedIn, Facebook): a journal note marks the create
call as (about to be) sent; a run that finds the note looks the post up before creating it again, and a lookup match
is journaled so the next run need not look again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from domain.channels.connectors import Duplicate, Unconfirmed
from domain.publishing.publisher import OutgoingPost, PublishedPost, PublishJournal


async def publish_once(
    journal: PublishJournal,
    *,
    sent_key: str,
    post_key: str,
    look_up: Callable[[], Awaitable[PublishedPost | None]],
    upload: Callable[[], Awaitable[list[str]]],
    create: Callable[[list[str]], Awaitable[str]],
    published: Callable[[str], PublishedPost],
) -> PublishedPost:
    """The create step of `publish`, once the caller has returned a journaled post and checked the content."""
    sent_before = journal.get(sent_key) is not None
    if sent_before:
        found = await look_up()
        if found is not None:
            return found
    media_ids = await upload()
    await journal.record(sent_key, datetime.now(UTC).isoformat())
    try:
        post_id = await create(media_ids)
    except Duplicate:
        # Our own earlier attempt may be the "duplicate": look once more before failing the delivery.
        found = await look_up() if sent_before else None
        if found is not None:
            return found
        raise
    journal.remember(post_key, post_id)
    return published(post_id)


async def chosen(
    post: OutgoingPost,
    journal: PublishJournal,
    matches: list[str],
    *,
    post_key: str,
    published: Callable[[str], PublishedPost],
    no_text: str,
) -> PublishedPost | None:
    """The lookup's verdict from the platform's posts with our text since the first attempt, newest first: the
    oldest is the first attempt's. Without text nothing tells ours from another post of the window."""
    if not matches:
        return None
    if not post.text.strip():
        raise Unconfirmed(no_text)
    post_id = matches[-1]
    await journal.record(post_key, post_id)
    return published(post_id)
