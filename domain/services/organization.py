"""Organization-wide settings (owners and admins change them; every change is audited)."""

from __future__ import annotations

from typing import Any

from domain.auth import Principal
from domain.clock import Clock
from domain.errors import NotFound
from domain.organizations import Organization
from domain.ports import UnitOfWorkFactory
from domain.services import audit


class OrganizationService:
    def __init__(self, uows: UnitOfWorkFactory, clock: Clock) -> None:
        self._uows = uows
        self._clock = clock

    async def get(self, principal: Principal) -> Organization:
        async with self._uows.reading() as uow:
            organization = await uow.organizations.get(principal.organization_id)
        if organization is None:
            raise NotFound("Organization", principal.organization_id)
        return organization

    async def update_settings(self, principal: Principal, changes: dict[str, Any]) -> Organization:
        async with self._uows() as uow:
            organization = await uow.organizations.get(principal.organization_id)
            if organization is None:
                raise NotFound("Organization", principal.organization_id)
            changed = organization.model_copy(update={**changes, "updated_at": self._clock.now()})
            await uow.organizations.update(changed)
            await audit.record(
                uow, organization_id=organization.id, actor=principal, action="organization.settings",
                target_type="organization", target_id=organization.id, details=changes,
            )  # fmt: skip
            await uow.commit()
        return changed
