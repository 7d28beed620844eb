"""Integrations (`/integrations`, the PRD's Postiz-compatible paths). Connecting over OAuth comes with the platform
adapters; listing works now."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from api.deps import ContainerDep, CurrentPrincipal
from api.schemas import ApiModel
from domain.channels.integrations import Integration
from domain.identity.platforms import Platform

router = APIRouter(prefix="/integrations", tags=["integrations"])


class IntegrationOut(ApiModel):
    id: str
    provider_identifier: Platform
    internal_id: str
    name: str
    handle: str | None
    picture: str | None
    token_expiration: datetime | None
    disabled: bool
    refresh_needed: bool
    status: str
    created_at: datetime

    @classmethod
    def of(cls, integration: Integration) -> IntegrationOut:
        data = integration.model_dump(exclude={"token", "refresh_token", "organization_id", "updated_at"})
        return cls(**data, status=integration.status)


@router.get("/list", response_model=list[IntegrationOut])
async def list_integrations(principal: CurrentPrincipal, container: ContainerDep) -> list[IntegrationOut]:
    async with container.uow() as uow:
        integrations = await uow.integrations.find(principal.organization_id)
    return [IntegrationOut.of(i) for i in integrations]
