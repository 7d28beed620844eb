"""Account warming (`/axon/accounts/:id/warming`): start, pause, resume and inspect the account's warming schedule.

The schedule (`warming:{accountId}`) is a Temporal Schedule: operators can pause, trigger or inspect the same one in
the Temporal UI, where its note says why it is paused."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import Field

from api.deps import ClientIp, ContainerDep, CurrentPrincipal
from api.direct import DirectRoute
from api.schemas import ApiInput, JsonObject

router = APIRouter(route_class=DirectRoute, prefix="/axon/accounts", tags=["warming"])

AccountId = Annotated[str, Path(max_length=64)]


class PauseIn(ApiInput):
    reason: Annotated[str | None, Field(max_length=300)] = None


@router.post("/{account_id}/warming/start")
async def start_warming(
    account_id: AccountId,
    principal: CurrentPrincipal,
    container: ContainerDep,
    ip: ClientIp,
    config: Annotated[JsonObject | None, Body(description="A warmingConfig; the account's own when omitted")] = None,
) -> dict[str, Any]:
    """Set the account to `warming` with this plan (startActionsPerDay, targetActionsPerDay, rampDays, mix,
    activeHours in the Persona's timezone, jitterMinutes, startedAt) and run its daily schedule."""
    return await container.warming.start(principal, account_id, config, ip=ip)


@router.post("/{account_id}/warming/pause")
async def pause_warming(
    account_id: AccountId, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp,
    body: PauseIn | None = None,
) -> dict[str, Any]:  # fmt: skip
    return await container.warming.pause(principal, account_id, body.reason if body else None, ip=ip)


@router.post("/{account_id}/warming/resume")
async def resume_warming(
    account_id: AccountId, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> dict[str, Any]:
    return await container.warming.resume(principal, account_id, ip=ip)


@router.get("/{account_id}/warming")
async def get_warming(account_id: AccountId, principal: CurrentPrincipal, container: ContainerDep) -> dict[str, Any]:
    """The plan, today's day number, quota and actions done, the next run (from the schedule) and, when paused, why."""
    return await container.warming.view(principal, account_id)
