"""A channel that needs reconnecting: its grant was revoked (seen while publishing, refreshing its token or warming)
or a refresh's outcome could not be known. Marking it is the same wherever it is seen: the flag (shown in the matrix,
which keeps posts off the channel), an audit record, and the organization's `integration.refresh_needed` webhooks, all
in one transaction; then the hook (worker.py: the warming of the linked account pauses at once)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from domain.clock import Clock
from domain.notifications.webhooks import WebhookDelivery
from domain.ports import UnitOfWorkFactory
from domain.services import audit
from domain.services.webhooks import WebhookNotifier

log = logging.getLogger(__name__)

# Told (organization id, integration id) once a channel is marked as needing reconnecting.
RefreshNeededHook = Callable[[str, str], Awaitable[None]]


class RefreshNeeded:
    def __init__(
        self,
        uows: UnitOfWorkFactory,
        clock: Clock,
        webhooks: WebhookNotifier | None = None,
        hook: RefreshNeededHook | None = None,
    ) -> None:
        self._uows = uows
        self._clock = clock
        self._webhooks = webhooks
        self._hook = hook

    async def mark(self, organization_id: str, integration_id: str, reason: str, *, end_refresh: bool = False) -> None:
        """Flag, audit and tell the webhooks once, when it happens; `end_refresh` also clears the refresh journal
        (the refresh loop ends here). The hook is told even when the channel was marked already: a retry after a
        crash right after the commit still pauses the warming."""
        queued: list[WebhookDelivery] = []
        async with self._uows() as uow:
            integration = await uow.integrations.get(organization_id, integration_id)
            if integration is None:
                return
            changes: dict[str, object] = {"refresh_needed": True, "updated_at": self._clock.now()}
            if end_refresh:
                changes.update(refresh_in_flight_at=None, refresh_in_flight_fingerprint=None)
            if not integration.refresh_needed or end_refresh:
                await uow.integrations.update(integration.model_copy(update=changes))
            if not integration.refresh_needed:
                await audit.record(
                    uow, organization_id=organization_id, action="integration.refresh_needed",
                    target_type="integration", target_id=integration_id, details={"reason": reason},
                )  # fmt: skip
                if self._webhooks is not None:
                    queued = await self._webhooks.integration_refresh_needed(uow, integration, reason)
            await uow.commit()
        if self._webhooks is not None:
            await self._webhooks.send(queued)
        await self.tell(organization_id, integration_id)

    async def tell(self, organization_id: str, integration_id: str) -> None:
        """Best effort: the channel is marked whatever the hook does; a failure is logged, never fails the caller."""
        if self._hook is None:
            return
        try:
            await self._hook(organization_id, integration_id)
        except Exception as exc:
            log.warning("refresh-needed hook failed for integration %s: %s", integration_id, type(exc).__name__)
