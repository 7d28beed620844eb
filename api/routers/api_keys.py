"""Organization API keys (`/auth/api-keys`): the key is in the creation answer and nowhere else, ever."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import Field, StringConstraints

from api.deps import ClientIp, ContainerDep, CurrentPrincipal, PageDep, ReadUowDep, UowDep
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel, PageOut
from domain.api_keys import ApiKey
from domain.auth import Role

router = APIRouter(route_class=DirectRoute, prefix="/auth/api-keys", tags=["api keys"])


class ApiKeyIn(ApiInput):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    role: Role = Role.MEMBER


class ApiKeyOut(ApiModel):
    id: str
    name: str
    prefix: str
    role: Role
    created_by: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            role=key.role,
            created_by=key.created_by,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
        )


class CreatedApiKeyOut(ApiKeyOut):
    key: str = Field(description="The API key. Shown once: store it now.")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedApiKeyOut)
async def create_api_key(
    body: ApiKeyIn, principal: CurrentPrincipal, container: ContainerDep, uow: UowDep, ip: ClientIp
) -> CreatedApiKeyOut:
    key, raw = await container.api_keys.create(uow, principal, body.name, body.role, ip=ip)
    return CreatedApiKeyOut(**ApiKeyOut.of(key).model_dump(), key=raw)


@router.get("", response_model=PageOut[ApiKeyOut])
async def list_api_keys(
    principal: CurrentPrincipal, container: ContainerDep, uow: ReadUowDep, page: PageDep
) -> PageOut[ApiKeyOut]:
    result = await container.api_keys.list(uow, principal, page)
    return PageOut(items=[ApiKeyOut.of(k) for k in result.items], next_cursor=result.next_cursor)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_api_key(
    key_id: Annotated[str, Path(max_length=64)],
    principal: CurrentPrincipal,
    container: ContainerDep,
    uow: UowDep,
    ip: ClientIp,
) -> None:
    await container.api_keys.delete(uow, principal, key_id, ip=ip)
