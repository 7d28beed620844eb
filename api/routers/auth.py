"""Sign-up, sign-in, token refresh, sign-out, the current principal, accepting an invitation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status
from pydantic import EmailStr, Field, StringConstraints

from api.deps import ClientIp, ContainerDep, CurrentPrincipal, ReadUowDep, UowDep
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel
from domain.auth import ActorType, Role
from domain.errors import NotFound
from domain.services.auth import Registration, TokenPair

router = APIRouter(route_class=DirectRoute, prefix="/auth", tags=["auth"])

Password = Annotated[str, Field(min_length=10, max_length=256, description="At least 10 characters")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class RegisterIn(ApiInput):
    email: EmailStr
    password: Password
    name: Name
    organization_name: Name


class LoginIn(ApiInput):
    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=256)]


class RefreshIn(ApiInput):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class LogoutIn(ApiInput):
    refresh_token: Annotated[str | None, Field(max_length=512)] = None


class AcceptInvitationIn(ApiInput):
    token: Annotated[str, Field(min_length=1, max_length=512)]
    password: Password
    name: Name | None = None


class TokensOut(ApiModel):
    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int

    @classmethod
    def of(cls, pair: TokenPair) -> TokensOut:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
        )


class OrganizationOut(ApiModel):
    id: str
    name: str


class MeOut(ApiModel):
    actor_type: ActorType
    id: str
    email: str | None = None
    name: str | None = None
    role: Role
    organization: OrganizationOut


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=TokensOut,
             responses={409: {"description": "The email is taken (`email_taken`)"}})  # fmt: skip
async def register(body: RegisterIn, container: ContainerDep, uow: UowDep, ip: ClientIp) -> TokensOut:
    data = Registration(
        email=body.email, password=body.password, name=body.name, organization_name=body.organization_name
    )
    return TokensOut.of(await container.auth.register(uow, data, ip=ip))


@router.post(
    "/login",
    response_model=TokensOut,
    responses={
        401: {"description": "Wrong email or password (`invalid_credentials`)"},
        429: {"description": "Too many failed sign-ins from this address or for this email (`login_locked`)"},
    },
)
async def login(body: LoginIn, container: ContainerDep, uow: UowDep, ip: ClientIp) -> TokensOut:
    return TokensOut.of(await container.auth.login(uow, body.email, body.password, ip=ip))


@router.post(
    "/refresh",
    response_model=TokensOut,
    responses={401: {"description": "Invalid, expired or reused (`refresh_token_invalid`)"}},
)
async def refresh(body: RefreshIn, container: ContainerDep, uow: UowDep, ip: ClientIp) -> TokensOut:
    return TokensOut.of(await container.auth.refresh(uow, body.refresh_token, ip=ip))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    principal: CurrentPrincipal,
    container: ContainerDep,
    uow: UowDep,
    ip: ClientIp,
    body: LogoutIn | None = None,
) -> None:
    await container.auth.logout(uow, principal, body.refresh_token if body else None, ip=ip)


@router.post(
    "/invitations/accept",
    response_model=TokensOut,
    responses={401: {"description": "Invalid or expired (`invitation_invalid`)"}},
)
async def accept_invitation(body: AcceptInvitationIn, container: ContainerDep, uow: UowDep, ip: ClientIp) -> TokensOut:
    return TokensOut.of(await container.auth.accept_invitation(uow, body.token, body.password, body.name, ip=ip))


@router.get("/me", response_model=MeOut)
async def me(principal: CurrentPrincipal, uow: ReadUowDep) -> MeOut:
    org = await uow.organizations.get(principal.organization_id)
    if org is None:
        raise NotFound("Organization", principal.organization_id)
    out = MeOut(
        actor_type=principal.actor_type,
        id=principal.actor_id,
        role=principal.role,
        organization=OrganizationOut(id=org.id, name=org.name),
    )
    if principal.actor_type is ActorType.USER:
        user = await uow.users.get(principal.organization_id, principal.actor_id)
        if user is not None:
            out.email, out.name = user.email, user.name
    else:
        key = await uow.api_keys.get(principal.organization_id, principal.actor_id)
        out.name = key.name if key else None
    return out
