"""Accounts (`/axon/accounts`): credentials are write-only; responses say which are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AwareDatetime, Field, StringConstraints
from pydantic.alias_generators import to_camel

from api.deps import ClientIp, ContainerDep, CurrentPrincipal, PageDep
from api.direct import DirectRoute
from api.rendered import Rendered
from api.schemas import ApiInput, ApiModel, JsonObject, PageOut, changes_of
from domain.identity.accounts import Account, AccountFilter, AccountStatus
from domain.identity.credentials import summary
from domain.identity.platforms import Platform

router = APIRouter(route_class=DirectRoute, prefix="/axon/accounts", tags=["accounts"])

Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Secret = Annotated[str, Field(max_length=8192)]
AccountId = Annotated[str, Path(max_length=64)]
Json = Annotated[JsonObject, Field(max_length=200)]
PlatformName = Annotated[str, Field(max_length=32, description="x (or twitter), linkedin, facebook, instagram, "
                                                               "tiktok, threads, bluesky, mastodon")]  # fmt: skip


class CredentialsIn(ApiInput):
    """Each field sent replaces the stored one; null removes it; fields not sent stay as they are."""

    username: Secret | None = None
    password: Secret | None = None
    access_token: Secret | None = None
    refresh_token: Secret | None = None
    api_key: Secret | None = None
    api_secret: Secret | None = None
    two_factor_secret: Secret | None = Field(default=None, description="Base32 TOTP secret")
    backup_codes: Annotated[list[Annotated[str, Field(max_length=128)]] | None, Field(max_length=100)] = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, by their API names (the names sealed values are bound to)."""
        return {to_camel(name): getattr(self, name) for name in self.model_fields_set}


class AccountFields(ApiInput):
    not_null = ("soul_id", "platform", "handle", "status", "metrics", "warming_config", "credentials", "warning_count")

    display_name: Annotated[str | None, Field(max_length=200)] = None
    status: AccountStatus | None = None
    proxy_id: Ref | None = None
    metrics: Json | None = None
    warming_config: Json | None = None
    last_activity_at: AwareDatetime | None = None
    daily_post_limit: Annotated[
        int | None, Field(ge=1, le=10000, description="Posts a day at most; null: no limit")
    ] = None
    cooldown_until: AwareDatetime | None = Field(
        default=None, description="No posting before this time (owners and admins; null clears the cooldown)"
    )
    warning_count: Annotated[int | None, Field(ge=0, le=1_000_000, description="Owners and admins (0 clears)")] = None


class AccountIn(AccountFields):
    soul_id: Ref
    platform: PlatformName
    handle: Annotated[str, Field(min_length=1, max_length=260)]
    credentials: CredentialsIn | None = None


class AccountPatch(AccountFields):
    soul_id: Ref | None = None
    platform: PlatformName | None = None
    handle: Annotated[str | None, Field(min_length=1, max_length=260)] = None
    credentials: CredentialsIn | None = None


class IntegrationLink(ApiInput):
    integration_id: Ref | None = Field(description="The channel to link, or null to unlink")


class ProxyAssignment(ApiInput):
    proxy_id: Ref | None = Field(description="The proxy to use, or null to unassign")


class CredentialSummary(ApiModel):
    has_username: bool
    has_password: bool
    has_access_token: bool
    has_refresh_token: bool
    has_api_key: bool
    has_api_secret: bool
    has_two_factor_secret: bool
    backup_codes_count: int


class AccountOut(ApiModel):
    id: str
    soul_id: str
    platform: Platform
    handle: str
    display_name: str | None
    status: AccountStatus
    credentials: CredentialSummary
    proxy_id: str | None
    proxy_failed: bool = Field(
        description="The assigned proxy failed its health checks: publishing through it is refused until it passes one"
    )
    integration_id: str | None
    metrics: dict[str, Any]
    warming_config: dict[str, Any]
    last_activity_at: datetime | None
    daily_post_limit: int | None = Field(description="Posts a day at most, in the day of the soul's Persona timezone")
    cooldown_until: datetime | None = Field(description="No posting before this time")
    cooldown_reason: str | None = Field(description="Why the account cools down")
    warning_count: int = Field(description="How many times a platform flagged the account (rate limits, spam)")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        # The domain fields as they are (no dump of a copy first): what the response does not declare is ignored.
        return cls.model_validate({**vars(account), "credentials": summary(account)})


class RevealedCredentials(ApiModel):
    credentials: dict[str, Any]


class TotpOut(ApiModel):
    code: str
    valid_for_seconds: int


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
async def create_account(body: AccountIn, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
                         ) -> AccountOut:  # fmt: skip
    values = changes_of(body)
    values.pop("credentials", None)
    credentials = body.credentials.changes() if body.credentials else {}
    return AccountOut.of(await container.accounts.create(principal, values, credentials, ip=ip))


@router.get("", response_model=PageOut[AccountOut])
async def list_accounts(
    principal: CurrentPrincipal,
    container: ContainerDep,
    page: PageDep,
    soul_id: Annotated[str | None, Query(alias="soulId", max_length=64)] = None,
    platform: Annotated[str | None, Query(max_length=32)] = None,
    status_: Annotated[AccountStatus | None, Query(alias="status")] = None,
) -> PageOut[AccountOut]:
    filters = AccountFilter(soul_id=soul_id, platform=Platform.parse(platform) if platform else None, status=status_)
    result = await container.accounts.find(principal, filters, page)
    return PageOut(items=[AccountOut.of(a) for a in result.items], next_cursor=result.next_cursor)


_ACCOUNT_JSON: Rendered[Account, AccountOut] = Rendered(AccountOut, AccountOut.of)


@router.get("/{account_id}", response_model=AccountOut)
async def get_account(account_id: AccountId, principal: CurrentPrincipal, container: ContainerDep) -> Response:
    return _ACCOUNT_JSON.response(await container.accounts.get(principal, account_id))


@router.put("/{account_id}", response_model=AccountOut)
@router.patch("/{account_id}", response_model=AccountOut)
async def update_account(
    account_id: AccountId, body: AccountPatch, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> AccountOut:
    """Changes the fields sent; others stay. Credentials merge field by field (null removes one)."""
    changes = changes_of(body)
    changes.pop("credentials", None)
    credentials = body.credentials.changes() if body.credentials else None
    return AccountOut.of(await container.accounts.update(principal, account_id, changes, credentials, ip=ip))


@router.patch("/{account_id}/proxy", response_model=AccountOut)
async def assign_proxy(
    account_id: AccountId, body: ProxyAssignment, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> AccountOut:
    return AccountOut.of(await container.accounts.set_proxy(principal, account_id, body.proxy_id, ip=ip))


@router.patch("/{account_id}/integration", response_model=AccountOut)
async def link_integration(
    account_id: AccountId, body: IntegrationLink, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> AccountOut:
    """Link the account 1:1 to its channel (platforms must match), or unlink it with null."""
    return AccountOut.of(await container.accounts.set_integration(principal, account_id, body.integration_id, ip=ip))


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_account(account_id: AccountId, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
                         ) -> None:  # fmt: skip
    await container.accounts.delete(principal, account_id, ip=ip)


@router.post("/{account_id}/credentials/reveal", response_model=RevealedCredentials)
async def reveal_credentials(
    account_id: AccountId, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> RevealedCredentials:
    """Owners and admins only; audited. The answer is not cached."""
    return RevealedCredentials(credentials=await container.accounts.reveal(principal, account_id, ip=ip))


@router.get("/{account_id}/totp", response_model=TotpOut)
async def current_totp(account_id: AccountId, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
                       ) -> TotpOut:  # fmt: skip
    """The current 2FA code from the stored secret (audited), so nobody copies the secret out."""
    code, remaining = await container.accounts.totp(principal, account_id, ip=ip)
    return TotpOut(code=code, valid_for_seconds=remaining)
