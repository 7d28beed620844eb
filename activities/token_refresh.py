"""Token refresh activities: when is the channel's token due, and refresh it through the linked Account's proxy.

Secrets never cross into workflow history: inputs and results carry ids, times and outcomes only.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingType
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.channels.connectors import (
    AuthExpired,
    AuthRevoked,
    ConnectorError,
    InvalidRequest,
    PlatformConnector,
    ProxySpec,
    RateLimited,
)
from domain.channels.integrations import Integration, integration_record
from domain.clock import Clock
from domain.identity.accounts import AccountFilter
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from domain.identity.proxies import proxy_record
from domain.pagination import PageRequest
from domain.ports import FieldSealer, UnitOfWorkFactory
from domain.services import audit


class RefreshTarget(BaseModel):
    organization_id: str
    integration_id: str


class RefreshPlan(BaseModel):
    active: bool  # False: gone, disabled, needs reconnecting, or its token never expires
    expires_at: datetime | None = None
    platform: str | None = None
    account_id: str | None = None


class RefreshOutcome(BaseModel):
    outcome: str  # refreshed | revoked | gone
    expires_at: datetime | None = None


class TokenRefreshActivities:
    def __init__(
        self,
        store: DocumentStore,
        uows: UnitOfWorkFactory,
        sealer: FieldSealer,
        connectors: MappingType[Platform, PlatformConnector],
        clock: Clock,
    ) -> None:
        self._store = store
        self._uows = uows
        self._sealer = sealer
        self._connectors = connectors
        self._clock = clock

    async def _integration(self, target: RefreshTarget) -> Integration | None:
        async with self._uows.reading() as uow:
            return await uow.integrations.get(target.organization_id, target.integration_id)

    @activity.defn(name="token_refresh_plan")
    async def plan(self, target: RefreshTarget) -> RefreshPlan:
        integration = await self._integration(target)
        if integration is None or integration.disabled or integration.refresh_needed:
            return RefreshPlan(active=False)
        if integration.token_expiration is None or integration.refresh_token is None:
            return RefreshPlan(active=False, platform=integration.provider_identifier.value)
        linked = await self._store.accounts.find(
            target.organization_id, AccountFilter(integration_id=integration.id), PageRequest(limit=1)
        )
        return RefreshPlan(
            active=True,
            expires_at=integration.token_expiration,
            platform=integration.provider_identifier.value,
            account_id=linked.items[0].id if linked.items else None,
        )

    async def _proxy_for(self, organization_id: str, integration_id: str) -> ProxySpec | None:
        linked = await self._store.accounts.find(
            organization_id, AccountFilter(integration_id=integration_id), PageRequest(limit=1)
        )
        if not linked.items or not linked.items[0].proxy_id:
            return None  # no linked account, or it has no proxy: a direct call (per-organization policy comes later)
        proxy = await self._store.proxies.get(organization_id, linked.items[0].proxy_id)
        if proxy is None:
            return None
        password = (
            self._sealer.decrypt_str(proxy.password, record=proxy_record(proxy.id), field="credentials.password")
            if proxy.password
            else None
        )
        return ProxySpec(proxy.protocol.value, proxy.host, proxy.port, proxy.username, password)

    @activity.defn(name="token_refresh_run")
    async def refresh(self, target: RefreshTarget) -> RefreshOutcome:
        integration = await self._integration(target)
        if integration is None or integration.refresh_token is None:
            return RefreshOutcome(outcome="gone")
        connector = self._connectors.get(integration.provider_identifier)
        if connector is None:
            return RefreshOutcome(outcome="gone")
        record = integration_record(integration.id)
        refresh_token = self._sealer.decrypt_str(integration.refresh_token, record=record, field="refreshToken")
        proxy = await self._proxy_for(target.organization_id, integration.id)
        try:
            tokens = await connector.refresh(refresh_token=refresh_token, proxy=proxy)
        except (AuthRevoked, AuthExpired, InvalidRequest) as exc:
            await self._mark_refresh_needed(integration, type(exc).__name__)
            return RefreshOutcome(outcome="revoked")
        except RateLimited as exc:
            delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
            raise ApplicationError(str(exc), type="RateLimited", next_retry_delay=delay) from None
        except ConnectorError as exc:  # transient: the retry policy backs off
            raise ApplicationError(str(exc), type=type(exc).__name__) from None
        now = self._clock.now()
        async with self._uows() as uow:
            current = await uow.integrations.get(target.organization_id, integration.id)
            if current is None:
                return RefreshOutcome(outcome="gone")
            updated = current.model_copy(update={
                "token": self._sealer.encrypt(tokens.access_token, record=record, field="token"),
                # A platform that did not resend a refresh token keeps the one we have.
                "refresh_token": self._sealer.encrypt(tokens.refresh_token, record=record, field="refreshToken")
                if tokens.refresh_token else current.refresh_token,
                "token_expiration": tokens.expires_at,
                "updated_at": now,
            })  # fmt: skip
            await uow.integrations.update(updated)
            await uow.commit()
        activity.logger.info("refreshed the token of integration %s", integration.id)
        return RefreshOutcome(outcome="refreshed", expires_at=tokens.expires_at)

    async def _mark_refresh_needed(self, integration: Integration, reason: str) -> None:
        async with self._uows() as uow:
            current = await uow.integrations.get(integration.organization_id, integration.id)
            if current is not None:
                await uow.integrations.update(
                    current.model_copy(update={"refresh_needed": True, "updated_at": self._clock.now()})
                )
                await audit.record(
                    uow, organization_id=integration.organization_id, action="integration.refresh_needed",
                    target_type="integration", target_id=integration.id, details={"reason": reason},
                )  # fmt: skip
            await uow.commit()
