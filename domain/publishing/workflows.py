"""The durable side of publishing the post use cases drive (Temporal in adapters/temporal/posts.py).

Every message names a delivery; the workflow is `post:{postId}:{integrationId}`. A message the workflow refuses
(a past date, a delivery already publishing) raises InvalidInput or Conflict; a workflow that is not running raises
WorkflowGone so the caller can fix the record itself."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.publishing.posts import Delivery


class WorkflowGone(Exception):
    """No running PostWorkflow for the delivery."""


class PostWorkflows(Protocol):
    async def start(self, delivery: Delivery, *, requires_approval: bool) -> None:
        """Start the delivery's PostWorkflow; starting one that runs already is a no-op."""
        ...

    async def reschedule(self, delivery: Delivery, publish_date: datetime) -> None: ...
    async def publish_now(self, delivery: Delivery) -> None: ...
    async def recheck(self, delivery: Delivery) -> None:
        """A delivery waiting for its account's risk window tries again now (the limits were loosened)."""
        ...

    async def cancel(self, delivery: Delivery) -> None: ...
    async def decide(self, delivery: Delivery, *, approved: bool) -> None: ...
    async def is_running(self, delivery: Delivery) -> bool: ...
    async def wait_closed(self, delivery: Delivery, within_s: float) -> bool:
        """True once no run of the delivery's workflow is running (a run that recorded its final state may still be
        telling the organization's webhooks); False if one still runs after `within_s`."""
        ...
