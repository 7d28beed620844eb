"""Request dependencies as `Annotated` aliases: the container, a unit of work, the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request

from adapters.sql.uow import SqlUnitOfWork
from api.container import Container
from domain.auth import Principal
from domain.errors import Forbidden, Unauthorized
from domain.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, PageRequest


# Every dependency is `async def`: FastAPI runs a plain `def` dependency in a worker thread, a costly hop per request.
async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def get_uow(container: ContainerDep) -> AsyncIterator[SqlUnitOfWork]:
    async with container.uow() as uow:
        yield uow


UowDep = Annotated[SqlUnitOfWork, Depends(get_uow)]


async def get_read_uow(container: ContainerDep) -> AsyncIterator[SqlUnitOfWork]:
    async with container.uow.reading() as uow:
        yield uow


# For endpoints that only read: on SQLite they then never queue for the write lock.
ReadUowDep = Annotated[SqlUnitOfWork, Depends(get_read_uow)]


async def get_principal(request: Request) -> Principal:
    """The caller, from `Authorization: Bearer <access token>` or `X-API-Key`.

    Read straight from the headers in one dependency: FastAPI's security classes as sub-dependencies cost about a
    tenth of a millisecond per request on every authenticated route. The OpenAPI document still declares both
    schemes (api/openapi.py).

    An Authorization header of another scheme (Basic, say) is not ours and is ignored, so an API-key client behind
    a proxy that adds its own credentials still gets in; a Bearer token that does not verify is refused even when a
    valid API key comes with it."""
    container: Container = request.app.state.container
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return await container.principals.from_bearer(token.strip())
    api_key = request.headers.get("x-api-key")
    if api_key:
        return await container.principals.from_api_key(api_key)
    raise Unauthorized("Send a bearer access token or an X-API-Key header.", code="not_authenticated")


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise Forbidden("This needs the owner or admin role.", code="role_required")
    return principal


AdminPrincipal = Annotated[Principal, Depends(require_admin)]


async def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientIp = Annotated[str | None, Depends(client_ip)]


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="`nextCursor` of the previous page")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=Cursor.decode(cursor) if cursor else None)


PageDep = Annotated[PageRequest, Depends(page_request)]
