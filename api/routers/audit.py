"""The organization's audit log (`/axon/audit-logs`), newest first, for owners and admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AdminPrincipal, PageDep, ReadUowDep
from api.direct import DirectRoute
from api.schemas import ApiModel, PageOut
from domain.audit import AuditFilter
from domain.auth import ActorType
from domain.services import audit

router = APIRouter(route_class=DirectRoute, prefix="/axon/audit-logs", tags=["audit"])


class AuditEntryOut(ApiModel):
    id: str
    actor_type: ActorType
    actor_id: str | None
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: dict[str, Any]
    created_at: datetime


@router.get("", response_model=PageOut[AuditEntryOut])
async def list_audit_logs(
    principal: AdminPrincipal,
    uow: ReadUowDep,
    page: PageDep,
    action: Annotated[str | None, Query(max_length=64, description="e.g. auth.login")] = None,
    actor_id: Annotated[str | None, Query(alias="actorId", max_length=64)] = None,
) -> PageOut[AuditEntryOut]:
    result = await audit.list_entries(uow, principal, AuditFilter(action=action, actor_id=actor_id), page)
    return PageOut(items=[AuditEntryOut.model_validate(e) for e in result.items], next_cursor=result.next_cursor)
