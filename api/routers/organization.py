"""Organization settings (`/axon/organization/settings`)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminPrincipal, ContainerDep, CurrentPrincipal
from api.schemas import ApiInput, ApiModel, changes_of

router = APIRouter(prefix="/axon/organization", tags=["organization"])


class SettingsOut(ApiModel):
    id: str
    name: str
    allow_direct_publishing: bool


class SettingsPatch(ApiInput):
    allow_direct_publishing: bool | None = None


@router.get("/settings")
async def get_settings(principal: CurrentPrincipal, container: ContainerDep) -> SettingsOut:
    return SettingsOut.model_validate(await container.organization.get(principal))


@router.patch("/settings")
async def update_settings(body: SettingsPatch, principal: AdminPrincipal, container: ContainerDep) -> SettingsOut:
    changes = changes_of(body, required=("allow_direct_publishing",))
    return SettingsOut.model_validate(await container.organization.update_settings(principal, changes))
