"""Users of the caller's organization (`/auth/users`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import EmailStr, Field, StringConstraints

from api.deps import ClientIp, ContainerDep, CurrentPrincipal, PageDep, ReadUowDep, UowDep
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel, PageOut
from domain.auth import Role
from domain.organizations import User
from domain.services.users import NewUser, UserChanges

router = APIRouter(route_class=DirectRoute, prefix="/auth/users", tags=["users"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
UserId = Annotated[str, Path(max_length=64)]


class UserIn(ApiInput):
    email: EmailStr
    name: Name
    role: Role = Role.MEMBER
    password: Annotated[
        str | None,
        Field(
            min_length=10,
            max_length=256,
            description="Omit to invite: the answer carries a one-time invitation token",
        ),
    ] = None


class UserPatch(ApiInput):
    name: Name | None = None
    role: Role | None = None
    is_active: bool | None = None


class UserOut(ApiModel):
    id: str
    email: str
    name: str
    role: Role
    is_active: bool
    invited: bool
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            is_active=user.is_active,
            invited=user.is_invited,
            last_login_at=user.last_login_at,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class CreatedUserOut(UserOut):
    invitation_token: str | None = Field(
        default=None, description="Shown once; the invitee sends it to /auth/invitations/accept"
    )


@router.get("", response_model=PageOut[UserOut])
async def list_users(
    principal: CurrentPrincipal, container: ContainerDep, uow: ReadUowDep, page: PageDep
) -> PageOut[UserOut]:
    result = await container.users.list(uow, principal, page)
    return PageOut(items=[UserOut.of(u) for u in result.items], next_cursor=result.next_cursor)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=CreatedUserOut)
async def create_user(
    body: UserIn, principal: CurrentPrincipal, container: ContainerDep, uow: UowDep, ip: ClientIp
) -> CreatedUserOut:
    data = NewUser(email=body.email, name=body.name, role=body.role, password=body.password)
    user, token = await container.users.create(uow, principal, data, ip=ip)
    return CreatedUserOut(**UserOut.of(user).model_dump(), invitation_token=token)


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: UserId, principal: CurrentPrincipal, container: ContainerDep, uow: ReadUowDep) -> UserOut:
    return UserOut.of(await container.users.get(uow, principal, user_id))


@router.patch("/{user_id}", response_model=UserOut)
async def update_user(
    user_id: UserId,
    body: UserPatch,
    principal: CurrentPrincipal,
    container: ContainerDep,
    uow: UowDep,
    ip: ClientIp,
) -> UserOut:
    changes = UserChanges(name=body.name, role=body.role, is_active=body.is_active)
    return UserOut.of(await container.users.update(uow, principal, user_id, changes, ip=ip))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(
    user_id: UserId, principal: CurrentPrincipal, container: ContainerDep, uow: UowDep, ip: ClientIp
) -> None:
    await container.users.delete(uow, principal, user_id, ip=ip)
