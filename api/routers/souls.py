"""Souls (`/axon/souls`): brand identities. `accountIds` is maintained by the server."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints

from api.deps import ClientIp, ContainerDep, CurrentPrincipal, PageDep
from api.direct import DirectRoute
from api.rendered import Rendered
from api.schemas import ApiInput, ApiModel, JsonObject, PageOut, changes_of
from domain.identity.souls import Soul, SoulFilter, SoulStatus

router = APIRouter(route_class=DirectRoute, prefix="/axon/souls", tags=["souls"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
SoulId = Annotated[str, Path(max_length=64)]
Metadata = Annotated[JsonObject, Field(max_length=100, description="Free-form key/value data")]


class SoulIn(ApiInput):
    name: Name
    description: Annotated[str | None, Field(max_length=4000)] = None
    status: SoulStatus = SoulStatus.ACTIVE
    persona_id: Ref | None = None
    proxy_id: Ref | None = Field(default=None, description="The soul's default proxy")
    metadata: Metadata = Field(default_factory=dict)


class SoulPatch(ApiInput):
    not_null = ("name", "status", "metadata")

    name: Name | None = None
    description: Annotated[str | None, Field(max_length=4000)] = None
    status: SoulStatus | None = None
    persona_id: Ref | None = None
    proxy_id: Ref | None = None
    metadata: Metadata | None = None


class SoulOut(ApiModel):
    id: str
    name: str
    description: str | None
    status: SoulStatus
    persona_id: str | None
    proxy_id: str | None
    account_ids: list[str]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, soul: Soul) -> SoulOut:
        return cls.model_validate(vars(soul))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SoulOut)
async def create_soul(body: SoulIn, principal: CurrentPrincipal, container: ContainerDep) -> SoulOut:
    return SoulOut.of(await container.souls.create(principal, body.model_dump()))


@router.get("", response_model=PageOut[SoulOut])
async def list_souls(
    principal: CurrentPrincipal,
    container: ContainerDep,
    page: PageDep,
    status_: Annotated[SoulStatus | None, Query(alias="status")] = None,
    search: Annotated[
        str | None, Query(min_length=1, max_length=40, description="Name or a word of it starts with")
    ] = None,
) -> PageOut[SoulOut]:
    result = await container.souls.find(principal, SoulFilter(status=status_, search=search), page)
    return PageOut(items=[SoulOut.of(s) for s in result.items], next_cursor=result.next_cursor)


_SOUL_JSON: Rendered[Soul, SoulOut] = Rendered(SoulOut, SoulOut.of)


@router.get("/{soul_id}", response_model=SoulOut)
async def get_soul(soul_id: SoulId, principal: CurrentPrincipal, container: ContainerDep) -> Response:
    return _SOUL_JSON.response(await container.souls.get(principal, soul_id))


@router.put("/{soul_id}", response_model=SoulOut)
@router.patch("/{soul_id}", response_model=SoulOut)
async def update_soul(
    soul_id: SoulId, body: SoulPatch, principal: CurrentPrincipal, container: ContainerDep
) -> SoulOut:
    """Changes the fields sent; others stay. `personaId`/`proxyId` null clears them."""
    changes = changes_of(body)
    return SoulOut.of(await container.souls.update(principal, soul_id, changes))


class SoulDeletionOut(ApiModel):
    workflow_id: str = Field(
        description="The SoulDeletionWorkflow (`soul-deletion:{soulId}`), visible in the Temporal UI"
    )
    status: SoulStatus = SoulStatus.DELETING


@router.delete(
    "/{soul_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={
        202: {"model": SoulDeletionOut, "description": "Deleting in the background: accounts, mappings, posts"},
        204: {"description": "Deleted (it had nothing attached)"},
        409: {"description": "It has accounts, mappings or posts and cascade is false"},
    },
)
async def delete_soul(
    soul_id: SoulId,
    principal: CurrentPrincipal,
    container: ContainerDep,
    ip: ClientIp,
    cascade: Annotated[bool, Query(description="Also delete the soul's accounts, mappings and posts")] = False,
) -> Response:
    """A soul with nothing attached is deleted at once (204). With accounts, mappings or posts: 409 unless
    `cascade=true`, which turns it `deleting` and starts the SoulDeletionWorkflow (202); until that finishes the
    soul takes no new posts, mappings or changes (409). Repeating the call on a `deleting` soul resumes its deletion."""
    deletion = await container.lifecycle.delete_soul(principal, soul_id, cascade=cascade, ip=ip)
    if deletion.workflow_id is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    body = SoulDeletionOut(workflow_id=deletion.workflow_id).model_dump(mode="json", by_alias=True)
    return JSONResponse(body, status_code=status.HTTP_202_ACCEPTED)
