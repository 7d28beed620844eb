"""The organization's data as one JSON document (`GET /axon/export`), for portability and before erasing it.

Each resource has the shape its own endpoints give it, so secrets are left out the same way: credentials reduced to
their `has*` flags, no proxy passwords, no channel tokens, no password hashes or invitation digests."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import Field

from api.deps import AdminPrincipal, ContainerDep
from api.direct import DirectRoute
from api.routers.accounts import AccountOut
from api.routers.audit import AuditEntryOut
from api.routers.integrations import IntegrationOut
from api.routers.matrix import MappingOut
from api.routers.personas import PersonaOut
from api.routers.posts import PostOut, post_out
from api.routers.proxies import ProxyOut
from api.routers.souls import SoulOut
from api.routers.users import UserOut
from api.schemas import ApiModel

router = APIRouter(route_class=DirectRoute, prefix="/axon", tags=["organization"])


class ExportedOrganization(ApiModel):
    id: str
    name: str
    allow_direct_publishing: bool
    created_at: datetime
    updated_at: datetime


class ExportOut(ApiModel):
    exported_at: datetime
    organization: ExportedOrganization
    users: list[UserOut]
    souls: list[SoulOut]
    personas: list[PersonaOut]
    accounts: list[AccountOut]
    proxies: list[ProxyOut]
    integrations: list[IntegrationOut]
    mappings: list[MappingOut]
    posts: list[PostOut] = Field(description="Each with its deliveries")
    audit_logs: list[AuditEntryOut] = Field(description="Newest first")


@router.get("/export")
async def export(principal: AdminPrincipal, container: ContainerDep) -> ExportOut:
    """Everything the organization holds (owners and admins), secrets excluded."""
    data = await container.lifecycle.export(principal)
    return ExportOut(
        exported_at=container.clock.now(),
        organization=ExportedOrganization.model_validate(data.organization),
        users=[UserOut.of(u) for u in data.users],
        souls=[SoulOut.of(s) for s in data.souls],
        personas=[PersonaOut.of(p) for p in data.personas],
        accounts=[AccountOut.of(a) for a in data.accounts],
        proxies=[ProxyOut.of(p) for p in data.proxies],
        integrations=[IntegrationOut.of(i) for i in data.integrations],
        mappings=[MappingOut.of(m) for m in data.mappings],
        posts=[post_out(v) for v in data.posts],
        audit_logs=[AuditEntryOut.model_validate(e) for e in data.audit],
    )
