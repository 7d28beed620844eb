"""Recording audit entries inside the caller's unit of work, so the entry commits with the change it describes."""

from __future__ import annotations

from typing import Any

from domain.audit import AuditEntry, AuditFilter
from domain.auth import ActorType, Principal
from domain.clock import utcnow
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports import UnitOfWork, UnitOfWorkFactory


async def record(
    uow: UnitOfWork,
    *,
    organization_id: str,
    action: str,
    actor: Principal | None = None,
    actor_type: ActorType | None = None,
    actor_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    ip: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        id=new_id(),
        organization_id=organization_id,
        actor_type=actor.actor_type if actor else (actor_type or ActorType.SYSTEM),
        actor_id=actor.actor_id if actor else actor_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        details=details or {},
        created_at=utcnow(),
    )
    await uow.audit.add(entry)
    return entry


async def list_entries(
    uow: UnitOfWork, principal: Principal, filters: AuditFilter, page: PageRequest
) -> Page[AuditEntry]:
    return await uow.audit.list(principal.organization_id, filters, page)


async def record_now(uows: UnitOfWorkFactory, **entry: Any) -> AuditEntry:
    """Record an entry in a transaction of its own: for changes made in the document store, which has no shared
    transaction with the audit log (the entry is written right after the change succeeds)."""
    async with uows() as uow:
        recorded = await record(uow, **entry)
        await uow.commit()
    return recorded
