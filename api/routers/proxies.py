"""Proxies (`/axon/proxies`): the password is write-only; `assignedAccountIds` is maintained by the server."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import AfterValidator, Field, StringConstraints

from api.deps import ClientIp, ContainerDep, CurrentPrincipal, PageDep
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel, PageOut, changes_of
from domain.errors import InvalidInput
from domain.identity.proxies import HealthStatus, Proxy, ProxyFilter, ProxyProtocol, ProxyStatus, ProxyType

router = APIRouter(route_class=DirectRoute, prefix="/axon/proxies", tags=["proxies"])

_HOSTNAME = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def _host(value: str) -> str:
    value = value.strip().lower()
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(value):
        raise ValueError("must be a host name or an IP address")
    return value


Host = Annotated[str, StringConstraints(max_length=255), AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Country = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$"),
    Field(description="ISO 3166-1 alpha-2"),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
ProxyId = Annotated[str, Path(max_length=64)]


class ProxyCredentialsIn(ApiInput):
    username: Annotated[str | None, Field(max_length=255)] = None
    password: Annotated[str | None, Field(max_length=1024)] = None


class ProxyFields(ApiInput):
    not_null = ("name", "type", "protocol", "host", "port", "status")

    provider: Text | None = None
    country: Country | None = None
    city: Text | None = None
    status: ProxyStatus | None = None
    credentials: ProxyCredentialsIn | None = None


class ProxyIn(ProxyFields):
    name: Name
    type: ProxyType
    protocol: ProxyProtocol
    host: Host
    port: Port


class ProxyPatch(ProxyFields):
    name: Name | None = None
    type: ProxyType | None = None
    protocol: ProxyProtocol | None = None
    host: Host | None = None
    port: Port | None = None


class ProxyCredentialsOut(ApiModel):
    username: str | None
    has_password: bool


class ProxyOut(ApiModel):
    id: str
    name: str
    type: ProxyType
    protocol: ProxyProtocol
    host: str
    port: int
    credentials: ProxyCredentialsOut
    provider: str | None
    country: str | None
    city: str | None
    status: ProxyStatus
    assigned_account_ids: list[str]
    last_health_check: datetime | None
    health_status: HealthStatus
    response_time_ms: int | None
    uptime_percentage: float | None
    last_error: str | None
    exit_ip: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, proxy: Proxy) -> ProxyOut:
        # The domain fields as they are (no dump of a copy first): what the response does not declare is ignored.
        credentials = ProxyCredentialsOut(username=proxy.username, has_password=bool(proxy.password))
        return cls.model_validate({**vars(proxy), "credentials": credentials})


class ProxyTestOut(ApiModel):
    ok: bool
    latency_ms: int | None
    exit_ip: str | None
    error: str | None
    proxy: ProxyOut


class ProxyRevealOut(ApiModel):
    username: str | None
    password: str | None


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], bool, str | None]:
    """Move credentials out of the values: (values with username, password sent?, password)."""
    creds = values.pop("credentials", None)
    if creds is None:
        return values, False, None
    if "username" in creds:
        values["username"] = creds["username"] or None
    return values, "password" in creds, creds.get("password") or None


def _require_username(username: str | None, password: str | None) -> None:
    if password and not username:
        raise InvalidInput("A proxy password needs a username.", field="credentials.username", code="username_required")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ProxyOut)
async def create_proxy(body: ProxyIn, principal: CurrentPrincipal, container: ContainerDep) -> ProxyOut:
    values, _, password = _split(changes_of(body))
    _require_username(values.get("username"), password)
    return ProxyOut.of(await container.proxies.create(principal, values, password))


@router.get("", response_model=PageOut[ProxyOut])
async def list_proxies(
    principal: CurrentPrincipal,
    container: ContainerDep,
    page: PageDep,
    status_: Annotated[ProxyStatus | None, Query(alias="status")] = None,
    health_status: Annotated[HealthStatus | None, Query(alias="healthStatus")] = None,
) -> PageOut[ProxyOut]:
    result = await container.proxies.find(principal, ProxyFilter(status=status_, health_status=health_status), page)
    return PageOut(items=[ProxyOut.of(p) for p in result.items], next_cursor=result.next_cursor)


@router.get("/{proxy_id}", response_model=ProxyOut)
async def get_proxy(proxy_id: ProxyId, principal: CurrentPrincipal, container: ContainerDep) -> ProxyOut:
    return ProxyOut.of(await container.proxies.get(principal, proxy_id))


@router.put("/{proxy_id}", response_model=ProxyOut)
@router.patch("/{proxy_id}", response_model=ProxyOut)
async def update_proxy(
    proxy_id: ProxyId, body: ProxyPatch, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> ProxyOut:
    """Changes the fields sent; others stay. `credentials.password` null removes the password."""
    values, password_given, password = _split(changes_of(body))
    updated = await container.proxies.update(
        principal, proxy_id, values, password, password_given=password_given, ip=ip
    )
    return ProxyOut.of(updated)


@router.delete("/{proxy_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_proxy(
    proxy_id: ProxyId,
    principal: CurrentPrincipal,
    container: ContainerDep,
    ip: ClientIp,
    unassign: Annotated[bool, Query(description="Unassign it from accounts and souls first")] = False,
) -> None:
    await container.proxies.delete(principal, proxy_id, unassign=unassign, ip=ip)


@router.post("/{proxy_id}/test", response_model=ProxyTestOut)
async def test_proxy(proxy_id: ProxyId, principal: CurrentPrincipal, container: ContainerDep) -> ProxyTestOut:
    """Connect through the proxy to the check URL and record the outcome, under the same rules as the `proxy-health`
    schedule: a failed test makes the proxy `degraded`, PROXY_FAILURES_TO_FAIL (default 2) in a row make it `failed`
    (its accounts get `proxyFailed`, publishing through it is refused); a passing test makes it usable again."""
    outcome, proxy = await container.proxies.test(principal, proxy_id)
    return ProxyTestOut(ok=outcome.ok, latency_ms=outcome.latency_ms, exit_ip=outcome.exit_ip, error=outcome.error,
                        proxy=ProxyOut.of(proxy))  # fmt: skip


@router.post("/{proxy_id}/credentials/reveal", response_model=ProxyRevealOut)
async def reveal_proxy_credentials(
    proxy_id: ProxyId, principal: CurrentPrincipal, container: ContainerDep, ip: ClientIp
) -> ProxyRevealOut:
    """Owners and admins only; audited."""
    return ProxyRevealOut.model_validate(await container.proxies.reveal(principal, proxy_id, ip=ip))
