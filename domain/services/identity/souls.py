"""Souls and Personas: create, read, change, delete (deletions audited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.auth import Principal
from domain.clock import Clock
from domain.errors import NotFound
from domain.identity.personas import Persona, validate_timezone
from domain.identity.ports import DocumentStore
from domain.identity.souls import Soul, SoulFilter, SoulStatus, ensure_accepts_work, settable_status
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWorkFactory
from domain.services import audit
from domain.services.identity.changes import apply_over_read


@dataclass(frozen=True)
class IdentityContext:
    store: DocumentStore
    uows: UnitOfWorkFactory
    clock: Clock


async def mark_soul_deleting(store: DocumentStore, clock: Clock, organization_id: str, soul_id: str) -> Soul | None:
    """Mark the soul `deleting` (it takes no new work from then on) over whatever else changed on it meanwhile, so an
    edit at the same moment can neither undo the mark nor be lost. None when the soul is gone."""

    async def read() -> Soul | None:
        return await store.souls.get(organization_id, soul_id)

    async def write(soul: Soul | None) -> Soul | None:
        if soul is None or soul.status is SoulStatus.DELETING:
            return soul
        marked = soul.model_copy(update={"status": SoulStatus.DELETING, "updated_at": clock.now()})
        try:
            return await store.souls.update(marked, expected_updated_at=soul.updated_at)
        except NotFound:  # deleted meanwhile
            return None

    return await apply_over_read(read, write)


class SoulService:
    def __init__(self, ctx: IdentityContext) -> None:
        self._ctx = ctx

    async def create(self, principal: Principal, values: dict[str, Any]) -> Soul:
        if "status" in values:
            settable_status(values["status"])
        now = self._ctx.clock.now()
        soul = Soul(id=new_id(), organization_id=principal.organization_id, created_at=now, updated_at=now, **values)
        await self._ctx.store.souls.add(soul)
        return soul

    async def get(self, principal: Principal, soul_id: str) -> Soul:
        soul = await self._ctx.store.souls.get(principal.organization_id, soul_id)
        if soul is None:
            raise NotFound("Soul", soul_id)
        return soul

    async def find(self, principal: Principal, filters: SoulFilter, page: PageRequest) -> Page[Soul]:
        return await self._ctx.store.souls.find(principal.organization_id, filters, page)

    async def update(self, principal: Principal, soul_id: str, changes: dict[str, Any]) -> Soul:
        if changes.get("status") is not None:
            settable_status(changes["status"])

        async def write(soul: Soul) -> Soul:
            ensure_accepts_work(soul)  # read again after a conflict: a deletion that started meanwhile refuses
            changed = soul.model_copy(update={**changes, "updated_at": self._ctx.clock.now()})
            return await self._ctx.store.souls.update(
                Soul.model_validate(changed.model_dump()), expected_updated_at=soul.updated_at
            )

        return await apply_over_read(lambda: self.get(principal, soul_id), write)


class PersonaService:
    def __init__(self, ctx: IdentityContext) -> None:
        self._ctx = ctx

    async def create(self, principal: Principal, values: dict[str, Any]) -> Persona:
        if "timezone" in values:
            values = {**values, "timezone": validate_timezone(values["timezone"])}
        now = self._ctx.clock.now()
        persona = Persona(
            id=new_id(), organization_id=principal.organization_id, created_at=now, updated_at=now, **values
        )
        await self._ctx.store.personas.add(persona)
        return persona

    async def get(self, principal: Principal, persona_id: str) -> Persona:
        persona = await self._ctx.store.personas.get(principal.organization_id, persona_id)
        if persona is None:
            raise NotFound("Persona", persona_id)
        return persona

    async def find(self, principal: Principal, page: PageRequest) -> Page[Persona]:
        return await self._ctx.store.personas.find(principal.organization_id, page)

    async def update(self, principal: Principal, persona_id: str, changes: dict[str, Any]) -> Persona:
        if "timezone" in changes:
            changes = {**changes, "timezone": validate_timezone(changes["timezone"])}

        async def write(persona: Persona) -> Persona:
            changed = persona.model_copy(update={**changes, "updated_at": self._ctx.clock.now()})
            return await self._ctx.store.personas.update(
                Persona.model_validate(changed.model_dump()), expected_updated_at=persona.updated_at
            )

        return await apply_over_read(lambda: self.get(principal, persona_id), write)

    async def delete(self, principal: Principal, persona_id: str, *, unassign: bool, ip: str | None) -> list[str]:
        souls = await self._ctx.store.personas.delete(principal.organization_id, persona_id, unassign=unassign)
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal, action="persona.delete",
            target_type="persona", target_id=persona_id, ip=ip, details={"unassignedSoulIds": souls},
        )  # fmt: skip
        return souls
