"""Integrations (`/integrations`, the PRD's Postiz-compatible paths): connect a channel (OAuth; Bluesky with an app
password; Mastodon on the user's own instance), list, remove."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import Field, SecretStr

from api.deps import ClientIp, ContainerDep, CurrentPrincipal
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel
from domain.channels.integrations import Integration
from domain.identity.platforms import Platform

router = APIRouter(route_class=DirectRoute, prefix="/integrations", tags=["integrations"])


class IntegrationOut(ApiModel):
    id: str
    provider_identifier: Platform
    internal_id: str
    name: str
    handle: str | None
    picture: str | None
    token_expiration: datetime | None
    disabled: bool
    refresh_needed: bool
    status: str
    created_at: datetime

    @classmethod
    def of(cls, integration: Integration) -> IntegrationOut:
        data = integration.model_dump(exclude={"token", "refresh_token", "organization_id", "updated_at"})
        return cls(**data, status=integration.status)


@router.get("/list", response_model=list[IntegrationOut])
async def list_integrations(principal: CurrentPrincipal, container: ContainerDep) -> list[IntegrationOut]:
    async with container.uow.reading() as uow:
        integrations = await uow.integrations.find(principal.organization_id)
    return [IntegrationOut.of(i) for i in integrations]


Provider = Annotated[
    str,
    Path(
        max_length=32,
        description="x, linkedin, facebook, instagram, tiktok, threads, mastodon (bluesky has its own connect)",
    ),
]
Ref = Annotated[str, Field(min_length=1, max_length=64)]


class AuthorizeOut(ApiModel):
    url: str
    state: str


class ConnectIn(ApiInput):
    code: Annotated[str, Field(min_length=1, max_length=4096)]
    state: Annotated[str, Field(min_length=1, max_length=512)]


class AppPasswordConnectIn(ApiInput):
    identifier: Annotated[str, Field(min_length=1, max_length=512, description="Handle, DID or e-mail address")]
    # SecretStr: never in a repr, a log line or an error's echo of the input.
    app_password: Annotated[SecretStr, Field(min_length=1, max_length=256)]
    service: Annotated[str, Field(max_length=2048)] | None = Field(
        default=None, description="The account's PDS, e.g. https://bsky.social (the default)"
    )
    account_id: Ref | None = Field(default=None, description="Sign in through this account's proxy")
    soul_id: Ref | None = Field(default=None, description="Sign in through this soul's default proxy")


_PLATFORM_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "The platform is rate limiting (`platform_rate_limited`); see Retry-After"}
}


@router.get("/social/{provider}", response_model=AuthorizeOut, responses=_PLATFORM_LIMITED)
async def authorize_url(
    provider: Provider,
    principal: CurrentPrincipal,
    container: ContainerDep,
    instance: Annotated[str | None, Query(max_length=2048, description="Mastodon: the user's instance")] = None,
    account_id: Annotated[
        str | None, Query(alias="accountId", max_length=64, description="Connect through this account's proxy")
    ] = None,
    soul_id: Annotated[
        str | None, Query(alias="soulId", max_length=64, description="Connect through this soul's default proxy")
    ] = None,
) -> AuthorizeOut:
    """Where to send the user to approve; the state is single-use, expires in ten minutes, and carries the
    instance (Mastodon, whose app is registered there on first use) and the account or soul whose proxy the code
    exchange will go through."""
    url, state = await container.integrations.start(
        principal, provider, instance=instance, account_id=account_id, soul_id=soul_id
    )
    return AuthorizeOut(url=url, state=state)


# Declared before the OAuth connect: FastAPI takes the first matching route.
@router.post("/social/bluesky/connect", response_model=IntegrationOut, responses=_PLATFORM_LIMITED)
async def connect_with_app_password(
    body: AppPasswordConnectIn, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> IntegrationOut:
    """Bluesky: sign in with an app password (created at bsky.app → Settings → App passwords). Only the session's
    tokens are kept; the app password is used for this one sign-in."""
    integration = await container.integrations.connect_with_app_password(
        principal, "bluesky", body.identifier, body.app_password.get_secret_value(), service=body.service,
        account_id=body.account_id, soul_id=body.soul_id, ip=ip,
    )  # fmt: skip
    return IntegrationOut.of(integration)


@router.post("/social/{provider}/connect", response_model=IntegrationOut, responses=_PLATFORM_LIMITED)
async def connect(
    provider: Provider, body: ConnectIn, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> IntegrationOut:
    """Complete the OAuth round trip with the `code` and `state` the platform redirected back with."""
    integration = await container.integrations.connect(principal, provider, body.code, body.state, ip=ip)
    return IntegrationOut.of(integration)


@router.post("/{integration_id}/refresh", status_code=status.HTTP_202_ACCEPTED)
async def refresh_token(
    integration_id: Annotated[str, Path(max_length=64)], principal: CurrentPrincipal, container: ContainerDep
) -> dict[str, str]:
    """Ask the channel's token-refresh workflow to refresh now; watch it as `token-refresh:{id}` in the Temporal UI."""
    await container.integrations.refresh(principal, integration_id)
    return {"workflowId": f"token-refresh:{integration_id}"}


@router.delete("/{integration_id}", status_code=status.HTTP_204_NO_CONTENT)
async def disconnect(
    integration_id: Annotated[str, Path(max_length=64)], principal: CurrentPrincipal, container: ContainerDep,
    ip: ClientIp,
) -> None:  # fmt: skip
    """Revoke at the platform (best effort), unlink its account, remove it and its mappings."""
    await container.integrations.delete(principal, integration_id, ip=ip)
