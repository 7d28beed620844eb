"""Auto-link activities: match a freshly connected channel to the organization's Account (same platform and
handle), link them, and make sure the Account's Soul is mapped to the channel. Every step is idempotent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from temporalio import activity

from domain.channels.matrix import Mapping
from domain.clock import Clock
from domain.errors import InvalidInput
from domain.identity.accounts import AccountFilter
from domain.identity.platforms import normalize_handle
from domain.identity.ports import DocumentStore, IntegrationLinked, LinkChanged
from domain.ids import new_id
from domain.pagination import PageRequest
from domain.ports import UnitOfWorkFactory


class AutoLinkInput(BaseModel):
    organization_id: str
    integration_id: str


class AutoLinkResult(BaseModel):
    account_id: str | None = None
    soul_id: str | None = None
    mapping_id: str | None = None
    outcome: str  # linked | already_linked | no_match | conflict | integration_gone


# Told (organization id, integration id) once the channel is linked to its account (worker.py: warming resumes).
LinkedHook = Callable[[str, str], Awaitable[None]]


class AutoLinkActivities:
    def __init__(
        self, store: DocumentStore, uows: UnitOfWorkFactory, clock: Clock, on_linked: LinkedHook | None = None
    ) -> None:
        self._store = store
        self._uows = uows
        self._clock = clock
        self._on_linked = on_linked

    @activity.defn(name="autolink_integration")
    async def link(self, params: AutoLinkInput) -> AutoLinkResult:
        org = params.organization_id
        async with self._uows.reading() as uow:
            integration = await uow.integrations.get(org, params.integration_id)
        if integration is None:
            return AutoLinkResult(outcome="integration_gone")
        try:
            handle = normalize_handle(integration.provider_identifier, integration.handle or "")
        except InvalidInput:
            return AutoLinkResult(outcome="no_match")
        found = await self._store.accounts.find(
            org, AccountFilter(platform=integration.provider_identifier, handle=handle), PageRequest(limit=1)
        )
        if not found.items:
            return AutoLinkResult(outcome="no_match")
        account = found.items[0]
        outcome = "already_linked"
        if account.integration_id not in (None, integration.id):
            return AutoLinkResult(account_id=account.id, outcome="conflict")  # never steal another channel's account
        if account.integration_id is None:
            try:
                account = await self._store.accounts.set_integration(
                    org, account.id, integration.id, expected=None, updated_at=self._clock.now()
                )
            except (IntegrationLinked, LinkChanged):  # the channel, or the account, got linked meanwhile
                return AutoLinkResult(account_id=account.id, outcome="conflict")
            outcome = "linked"
        async with self._uows() as uow:
            await uow.mappings.set_account(org, integration.id, account.id)
            mapping = await uow.mappings.get_pair(org, account.soul_id, integration.id)
            if mapping is None:
                now = self._clock.now()
                primary = not await uow.mappings.has_primary(org, account.soul_id, integration.provider_identifier)
                mapping = Mapping(
                    id=new_id(), organization_id=org, soul_id=account.soul_id, integration_id=integration.id,
                    platform=integration.provider_identifier, account_id=account.id, is_primary=primary,
                    created_at=now, updated_at=now,
                )  # fmt: skip
                await uow.mappings.add(mapping)
            await uow.commit()
        activity.logger.info("auto-link %s: %s", integration.id, outcome)
        if self._on_linked is not None:  # after every connect, a reconnect too: its failure fails (retries) the link
            await self._on_linked(org, integration.id)
        return AutoLinkResult(account_id=account.id, soul_id=account.soul_id, mapping_id=mapping.id, outcome=outcome)
