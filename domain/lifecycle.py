"""Deleting a Soul or a whole organization, and what those deletions need from the outside.

Both are durable Temporal workflows (workflows/lifecycle.py): no transaction spans the document store and the
relational store, so each step is an idempotent activity and a run killed at any step is finished by the next one.
The ports below are what those steps use besides the repositories: the workflow starter (API side), the Temporal
processes a deletion stops (worker side), and the relational bulk deletions no single-row repository offers.
"""

from __future__ import annotations

from typing import Protocol

from domain.auth import Principal
from domain.publishing.posts import Delivery


def soul_deletion_id(soul_id: str) -> str:
    return f"soul-deletion:{soul_id}"


def organization_deletion_id(organization_id: str) -> str:
    return f"org-deletion:{organization_id}"


def warming_schedule_id(account_id: str) -> str:
    """The account's warming Schedule (issue 6): one per warming account."""
    return f"warming:{account_id}"


class LifecycleWorkflows(Protocol):
    """Starting the deletion workflows; starting one that runs already joins it. Returns the workflow id."""

    async def start_soul_deletion(self, organization_id: str, soul_id: str, actor: Principal) -> str: ...
    async def start_organization_deletion(self, organization_id: str, actor: Principal) -> str: ...


class LifecycleControls(Protocol):
    """The Temporal processes a deletion stops. Each call tolerates a target that does not exist or has ended."""

    async def stop_post_workflow(self, delivery: Delivery) -> None:
        """Request cancellation of the delivery's PostWorkflow (one that still collects metrics, for instance)."""
        ...

    async def delete_warming_schedule(self, account_id: str) -> None: ...
    async def stop_token_refresh(self, integration_id: str) -> None: ...


class ChannelDisconnector(Protocol):
    async def disconnect(self, organization_id: str, integration_id: str) -> None:
        """What DELETE /integrations/:id does (revoke at the platform as best it can, unlink the account, stop the
        token refresh, remove the channel and its mappings); a channel that is gone already is no error."""
        ...


class LifecycleRecords(Protocol):
    """Bulk deletions on the relational store, each in its own transaction (so a retry repeats at most one)."""

    async def delete_soul_mappings(self, organization_id: str, soul_id: str) -> int: ...
    async def clear_account_references(self, organization_id: str, account_id: str) -> int:
        """Mappings (of any soul) that name the account as their channel's account forget it."""
        ...

    async def delete_soul_posts(self, organization_id: str, soul_id: str, limit: int) -> int:
        """Delete up to `limit` posts of the soul with their deliveries; 0 when none is left."""
        ...

    async def forget_logins(self, organization_id: str) -> int:
        """Failed-login counters keyed by the e-mail addresses of the organization's users."""
        ...

    async def purge_organization(self, organization_id: str, limit: int) -> dict[str, int]:
        """Delete up to `limit` rows of the organization (children before parents, the organization row itself
        excepted), naming the table they came from; empty when nothing but the organization row is left."""
        ...

    async def delete_organization(self, organization_id: str) -> bool: ...
