"""The Matrix (`/axon/matrix`): souls x integrations, with the mappings between them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import Field, StringConstraints, TypeAdapter

from api.deps import ContainerDep, CurrentPrincipal
from api.direct import DirectRoute
from api.errors import problem
from api.routers.integrations import IntegrationOut
from api.routers.souls import SoulOut
from api.schemas import ApiInput, ApiModel, changes_of
from domain.channels.matrix import Mapping, MatrixFilter
from domain.identity.platforms import Platform
from domain.pagination import DEFAULT_LIMIT, Cursor, PageRequest
from domain.services.matrix import BulkFailed, BulkOperation, BulkResult, MappingInput

router = APIRouter(route_class=DirectRoute, prefix="/axon/matrix", tags=["matrix"])

# The whole matrix of a large organization (1,000 souls) fits one request.
MAX_MATRIX_SOULS = 1000

Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Notes = Annotated[str, Field(max_length=2000)]
Priority = Annotated[int, Field(ge=-1000, le=1000)]
MappingId = Annotated[str, Path(max_length=64)]


class MappingIn(ApiInput):
    soul_id: Ref
    integration_id: Ref
    account_id: Ref | None = None
    is_primary: bool | None = Field(default=None, description="Default: primary when the soul has none on the platform")
    priority: Priority = 0
    notes: Notes | None = None

    def to_input(self) -> MappingInput:
        return MappingInput(**self.model_dump())


class TogglePair(ApiInput):
    soul_id: Ref
    integration_id: Ref


class MappingPatch(ApiInput):
    not_null = ("priority", "is_primary")

    priority: Priority | None = None
    notes: Notes | None = None
    account_id: Ref | None = None
    is_primary: Literal[True] | None = Field(default=None, description="Use the primary endpoint to demote others")


class BulkItem(MappingIn):
    op: Literal["create", "delete", "toggle"]


class BulkIn(ApiInput):
    operations: Annotated[list[BulkItem], Field(min_length=1, max_length=500)]


class MappingOut(ApiModel):
    id: str
    soul_id: str
    integration_id: str
    platform: Platform
    account_id: str | None
    is_primary: bool
    priority: int
    notes: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, mapping: Mapping) -> MappingOut:
        return cls.model_validate(mapping.model_dump())


class ToggleOut(ApiModel):
    mapped: bool
    mapping: MappingOut | None


class BulkResultOut(ApiModel):
    index: int
    op: str
    status: str
    mapping: MappingOut | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def of(cls, result: BulkResult) -> BulkResultOut:
        return cls(index=result.index, op=result.op, status=result.status, error=result.error,
                   mapping=MappingOut.of(result.mapping) if result.mapping else None)  # fmt: skip


class MatrixSoulOut(SoulOut):
    mappings: list[MappingOut]


class MatrixOut(ApiModel):
    souls: list[MatrixSoulOut]
    integrations: list[IntegrationOut]
    next_cursor: str | None


_SOUL = TypeAdapter(SoulOut)
_INTEGRATIONS = TypeAdapter(list[IntegrationOut])


class SoulChannelOut(ApiModel):
    mapping: MappingOut
    integration: IntegrationOut


class SoulChannelsOut(ApiModel):
    soul: SoulOut
    channels: list[SoulChannelOut]


class IntegrationSoulOut(ApiModel):
    mapping: MappingOut
    soul: SoulOut | None


class IntegrationSoulsOut(ApiModel):
    integration: IntegrationOut
    souls: list[IntegrationSoulOut]


async def matrix_page(
    limit: Annotated[int, Query(ge=1, le=MAX_MATRIX_SOULS, description="Souls per page")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="`nextCursor` of the previous page")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=Cursor.decode(cursor) if cursor else None)


@router.get("", response_model=MatrixOut)
async def get_matrix(
    principal: CurrentPrincipal,
    container: ContainerDep,
    page: Annotated[PageRequest, Depends(matrix_page)],
    platform: Annotated[str | None, Query(max_length=32)] = None,
    search: Annotated[str | None, Query(min_length=1, max_length=40, description="Soul name search")] = None,
    connected_only: Annotated[bool, Query(alias="connectedOnly")] = False,
) -> Response:
    """A page of souls (by `limit`/`cursor`, up to all 1,000 of a large organization at once) against every
    integration, with the mappings between them."""
    filters = MatrixFilter(platform=Platform.parse(platform) if platform else None, soul_search=search,
                           connected_only=connected_only)  # fmt: skip
    view = await container.matrix.view(principal, filters, page)
    # Thousands of mappings arrive as JSON from the database: spliced into each soul's object (MatrixOut's shape),
    # never turned into models; the body is joined once. Souls and integrations are encoded by their own schemas.
    parts = [b'{"souls":[']
    for n, soul in enumerate(view.souls):
        parts += [b"," if n else b"", _SOUL.dump_json(SoulOut.of(soul), by_alias=True)[:-1], b',"mappings":[']
        parts += [view.mappings.get(soul.id, "").encode(), b"]}"]
    parts += [
        b'],"integrations":',
        _INTEGRATIONS.dump_json([IntegrationOut.of(i) for i in view.integrations], by_alias=True),
    ]
    parts += [b',"nextCursor":', json.dumps(view.next_cursor).encode(), b"}"]
    return Response(b"".join(parts), media_type="application/json")


@router.get("/souls/{soul_id}/integrations", response_model=SoulChannelsOut)
async def soul_integrations(
    soul_id: MappingId, principal: CurrentPrincipal, container: ContainerDep
) -> SoulChannelsOut:
    soul, pairs = await container.matrix.for_soul(principal, soul_id)
    return SoulChannelsOut(soul=SoulOut.of(soul), channels=[
        SoulChannelOut(mapping=MappingOut.of(m), integration=IntegrationOut.of(i)) for m, i in pairs])  # fmt: skip


@router.get("/integrations/{integration_id}/souls", response_model=IntegrationSoulsOut)
async def integration_souls(
    integration_id: MappingId, principal: CurrentPrincipal, container: ContainerDep
) -> IntegrationSoulsOut:
    integration, pairs = await container.matrix.for_integration(principal, integration_id)
    return IntegrationSoulsOut(integration=IntegrationOut.of(integration), souls=[
        IntegrationSoulOut(mapping=MappingOut.of(m), soul=SoulOut.of(s) if s else None) for m, s in pairs])  # fmt: skip


@router.post("/mappings", status_code=status.HTTP_201_CREATED, response_model=MappingOut)
async def create_mapping(body: MappingIn, principal: CurrentPrincipal, container: ContainerDep) -> MappingOut:
    return MappingOut.of(await container.matrix.create(principal, body.to_input()))


@router.post("/mappings/toggle", response_model=ToggleOut)
async def toggle_mapping(body: TogglePair, principal: CurrentPrincipal, container: ContainerDep) -> ToggleOut:
    """Maps the pair when it is unmapped, unmaps it when it is mapped."""
    mapping = await container.matrix.toggle(
        principal, MappingInput(soul_id=body.soul_id, integration_id=body.integration_id)
    )
    return ToggleOut(mapped=mapping is not None, mapping=MappingOut.of(mapping) if mapping else None)


@router.post("/mappings/bulk", response_model=list[BulkResultOut])
async def bulk_mappings(body: BulkIn, principal: CurrentPrincipal, container: ContainerDep) -> Any:
    """All operations apply, or none: on the first failure the answer is 409 with a result per operation."""
    operations = [BulkOperation(op=item.op, mapping=MappingInput(**item.model_dump(exclude={"op"})))
                  for item in body.operations]  # fmt: skip
    try:
        results = await container.matrix.bulk(principal, operations)
    except BulkFailed as exc:
        results_out = [BulkResultOut.of(r).model_dump(mode="json", by_alias=True) for r in exc.results]
        return problem(409, exc.code, exc.title, exc.detail, results=results_out)
    return [BulkResultOut.of(r) for r in results]


@router.patch("/mappings/{mapping_id}", response_model=MappingOut)
async def update_mapping(
    mapping_id: MappingId, body: MappingPatch, principal: CurrentPrincipal, container: ContainerDep
) -> MappingOut:
    changes = changes_of(body)
    return MappingOut.of(await container.matrix.update(principal, mapping_id, changes))


@router.delete("/mappings/{mapping_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_mapping(mapping_id: MappingId, principal: CurrentPrincipal, container: ContainerDep) -> None:
    await container.matrix.delete(principal, mapping_id)


@router.post("/mappings/{mapping_id}/primary", response_model=MappingOut)
async def set_primary(mapping_id: MappingId, principal: CurrentPrincipal, container: ContainerDep) -> MappingOut:
    """Make this the soul's primary channel on its platform; the previous primary is demoted."""
    return MappingOut.of(await container.matrix.set_primary(principal, mapping_id))
