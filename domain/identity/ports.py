"""Repository contracts of the document side, one per aggregate. Each method is atomic on its own (a SQL
transaction, a Firestore transaction), and keeps `soul.account_ids` and `proxy.assigned_account_ids` equal to the
accounts' `soul_id` and `proxy_id`, and `account.proxy_failed` equal to whether the account's proxy is failed (so
accounts moved onto or off a failed proxy are flagged or cleared in the same step).

References given in a body (a soul's persona, an account's soul or proxy) that do not exist in the organization raise
`ReferenceNotFound`; removals that something still uses raise `InUse` naming what blocks them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from domain.errors import Conflict, InvalidInput
from domain.identity.accounts import Account, AccountFilter, AccountStatus
from domain.identity.personas import Persona
from domain.identity.proxies import HealthRecord, HealthRules, HealthUpdate, Proxy, ProxyFilter
from domain.identity.souls import Soul, SoulFilter
from domain.pagination import Page, PageRequest


class ReferenceNotFound(InvalidInput):
    def __init__(self, field: str, resource: str, resource_id: str) -> None:
        super().__init__(
            f"{resource} {resource_id!r} does not exist in this organization.",
            field=field,
            code=f"{resource.lower()}_not_found",
        )


class InUse(Conflict):
    def __init__(self, detail: str, *, code: str, **blocking: list[str]) -> None:
        super().__init__(detail, code=code, blocking=blocking)


class DuplicateHandle(Conflict):
    def __init__(self, platform: str, handle: str) -> None:
        super().__init__(
            f"This organization already has a {platform} account with handle {handle!r}.",
            code="handle_taken",
        )


class IntegrationLinked(Conflict):
    def __init__(self, integration_id: str, account_id: str | None = None) -> None:
        super().__init__(
            f"Integration {integration_id!r} is already linked to another account.",
            code="integration_already_linked",
            **({"blocking": {"accountIds": [account_id]}} if account_id else {}),
        )


class RecordChanged(Conflict):
    """A conditional replace found the record changed since the caller read it (`expected_updated_at`)."""

    def __init__(self, resource: str, record_id: str) -> None:
        super().__init__(
            f"{resource} {record_id!r} changed at the same moment; reload and retry.", code="concurrent_change"
        )


class LinkChanged(Conflict):
    def __init__(self, account_id: str) -> None:
        super().__init__(
            f"The channel link of account {account_id!r} changed at the same moment; reload and retry.",
            code="concurrent_change",
        )


class SoulRepository(Protocol):
    async def add(self, soul: Soul) -> None: ...
    async def get(self, organization_id: str, soul_id: str) -> Soul | None: ...
    async def find(self, organization_id: str, filters: SoulFilter, page: PageRequest) -> Page[Soul]: ...
    async def update(self, soul: Soul, *, expected_updated_at: datetime | None = None) -> Soul:
        """Replace the soul's own fields (RecordChanged: see AccountRepository.update)."""
        ...

    async def delete(self, organization_id: str, soul_id: str, *, cascade: bool) -> list[str]:
        """Delete the soul; with `cascade` its accounts too (returning their ids), else InUse while it has any."""
        ...


class PersonaRepository(Protocol):
    async def add(self, persona: Persona) -> None: ...
    async def get(self, organization_id: str, persona_id: str) -> Persona | None: ...
    async def find(self, organization_id: str, page: PageRequest) -> Page[Persona]: ...
    async def update(self, persona: Persona, *, expected_updated_at: datetime | None = None) -> Persona:
        """Replace the persona (RecordChanged: see AccountRepository.update)."""
        ...

    async def delete(self, organization_id: str, persona_id: str, *, unassign: bool) -> list[str]:
        """Delete the persona; with `unassign` clear it from the souls using it (returning their ids)."""
        ...


# The new warming progress (an account's metrics.warming) from the stored one.
WarmingChange = Callable[[dict[str, Any]], dict[str, Any]]


class AccountRepository(Protocol):
    async def add(self, account: Account) -> Account:
        """Store the account; returns it as stored (`proxy_failed` set from its proxy)."""
        ...

    async def get(self, organization_id: str, account_id: str) -> Account | None: ...
    async def linked_to(self, organization_id: str, integration_id: str) -> Account | None:
        """The account linked to the integration (at most one: the link is 1:1), or None."""
        ...

    async def find(self, organization_id: str, filters: AccountFilter, page: PageRequest) -> Page[Account]: ...
    async def update(self, account: Account, *, expected_updated_at: datetime | None = None) -> Account:
        """Replace the account; moving it to another soul or proxy moves the back-references in the same step.
        With `expected_updated_at` (the `updated_at` the caller read), only if nothing changed it since: otherwise
        RecordChanged, and the caller applies its change again to what is stored now."""
        ...

    async def set_integration(
        self,
        organization_id: str,
        account_id: str,
        integration_id: str | None,
        *,
        expected: str | None,
        updated_at: datetime,
    ) -> Account:
        """Link the account to the integration (None: unlink) if it is still linked to `expected`, in one atomic step:
        of concurrent changes from one link, one wins and the others raise LinkChanged. IntegrationLinked when
        another account holds the integration; NotFound when the account is gone."""
        ...

    async def record_warning(
        self, organization_id: str, account_id: str, *, cooldown_until: datetime, reason: str, updated_at: datetime
    ) -> Account | None:
        """A platform flagged the account (risk limits): one more warning, and a cooldown until `cooldown_until`
        unless a longer one runs already; in one atomic step. None when the account is gone."""
        ...

    async def update_warming(
        self,
        organization_id: str,
        account_id: str,
        change: WarmingChange,
        *,
        updated_at: datetime,
        last_activity_at: datetime | None = None,
        status: AccountStatus | None = None,
    ) -> Account | None:
        """Warming's own write: `change` turns the stored warming progress (metrics.warming) into the new one, in
        one atomic step with the optional activity time and status; every other field stays as stored, so an
        operator's edit at the same moment is never undone. None when the account is gone."""
        ...

    async def delete(self, organization_id: str, account_id: str) -> None: ...


class ProxyRepository(Protocol):
    async def add(self, proxy: Proxy) -> None: ...
    async def get(self, organization_id: str, proxy_id: str) -> Proxy | None: ...
    async def find(self, organization_id: str, filters: ProxyFilter, page: PageRequest) -> Page[Proxy]: ...
    async def update(self, proxy: Proxy, *, expected_updated_at: datetime | None = None) -> Proxy:
        """Replace the proxy's own fields, not its health (RecordChanged: see AccountRepository.update)."""
        ...

    async def record_health(
        self, organization_id: str, proxy_id: str, update: HealthUpdate, rules: HealthRules
    ) -> HealthRecord | None:
        """Apply one check to the proxy (None if it is gone) and, in the same step, set `proxy_failed` on its
        accounts to whether it is failed now."""
        ...

    async def delete(self, organization_id: str, proxy_id: str, *, unassign: bool) -> list[str]:
        """Delete the proxy; with `unassign` clear it from accounts and souls using it (returning the account ids)."""
        ...


class DocumentStore(Protocol):
    @property
    def souls(self) -> SoulRepository: ...
    @property
    def personas(self) -> PersonaRepository: ...
    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def proxies(self) -> ProxyRepository: ...
    async def close(self) -> None: ...
