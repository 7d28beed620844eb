"""Organization settings (`/axon/organization/settings`) and deleting the organization (`DELETE /axon/organization`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import Field

from api.deps import AdminPrincipal, ClientIp, ContainerDep, CurrentPrincipal
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel, changes_of
from domain.identity.risk import OverLimitPolicy

router = APIRouter(route_class=DirectRoute, prefix="/axon/organization", tags=["organization"])


_POLICY = (
    "An account over its risk limits (daily post limit, cooldown): `wait` holds its deliveries in the QUEUE until "
    "the next window (the next day in the Persona's timezone, or the end of the cooldown); `fail` fails them with "
    "the reason (`RiskLimit`)"
)


class SettingsOut(ApiModel):
    id: str
    name: str
    allow_direct_publishing: bool
    over_limit_policy: OverLimitPolicy = Field(description=_POLICY)


class SettingsPatch(ApiInput):
    not_null = ("allow_direct_publishing", "over_limit_policy")

    allow_direct_publishing: bool | None = None
    over_limit_policy: OverLimitPolicy | None = Field(default=None, description=_POLICY)


@router.get("/settings")
async def get_settings(principal: CurrentPrincipal, container: ContainerDep) -> SettingsOut:
    return SettingsOut.model_validate(await container.organization.get(principal))


@router.patch("/settings")
async def update_settings(body: SettingsPatch, principal: AdminPrincipal, container: ContainerDep) -> SettingsOut:
    changes = changes_of(body)
    return SettingsOut.model_validate(await container.organization.update_settings(principal, changes))


class DeletionIn(ApiInput):
    confirm: Annotated[str, Field(max_length=200, description="The organization's name, exactly")]


class OrganizationDeletionOut(ApiModel):
    workflow_id: str = Field(description="The OrganizationDeletionWorkflow (`org-deletion:{orgId}`)")
    status: str = "deleting"


@router.delete(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={403: {"description": "Not an owner"}, 422: {"description": "`confirm` is not the organization's name"}},
)
async def delete_organization(
    body: DeletionIn, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> OrganizationDeletionOut:
    """Erase the organization and everything it holds (owners only). The OrganizationDeletionWorkflow deletes every
    soul (accounts, mappings, posts), disconnects every channel, then deletes proxies, personas, API keys, users,
    sessions, audit records and the organization. From the moment it starts, every request of the organization
    answers 410 Gone (`organization_deleted`). Export the data first (GET /axon/export) if it is needed."""
    workflow_id = await container.lifecycle.delete_organization(principal, body.confirm, ip=ip)
    return OrganizationDeletionOut(workflow_id=workflow_id)
