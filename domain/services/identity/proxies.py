"""Proxies: the password is sealed and write-only; a test connects through the proxy and records its health."""

from __future__ import annotations

from typing import Any

from domain.auth import Principal
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.identity.proxies import HealthUpdate, Proxy, ProxyFilter, proxy_record
from domain.ids import new_id
from domain.pagination import Page, PageRequest
from domain.ports import FieldSealer
from domain.services import audit
from domain.services.identity.changes import apply_over_read
from domain.services.identity.proxy_health import PASSWORD_FIELD, ProxyHealth
from domain.services.identity.souls import IdentityContext


class ProxyService:
    def __init__(self, ctx: IdentityContext, sealer: FieldSealer, health: ProxyHealth) -> None:
        self._ctx = ctx
        self._sealer = sealer
        self._health = health

    def _seal(self, proxy_id: str, password: str | None) -> dict[str, str] | None:
        if not password:
            return None
        return self._sealer.encrypt(password, record=proxy_record(proxy_id), field=PASSWORD_FIELD)

    def password_of(self, proxy: Proxy) -> str | None:
        return self._health.password_of(proxy)

    async def create(self, principal: Principal, values: dict[str, Any], password: str | None) -> Proxy:
        now = self._ctx.clock.now()
        proxy_id = new_id()
        proxy = Proxy(
            id=proxy_id, organization_id=principal.organization_id, password=self._seal(proxy_id, password),
            created_at=now, updated_at=now, **values,
        )  # fmt: skip
        await self._ctx.store.proxies.add(proxy)
        return proxy

    async def get(self, principal: Principal, proxy_id: str) -> Proxy:
        proxy = await self._ctx.store.proxies.get(principal.organization_id, proxy_id)
        if proxy is None:
            raise NotFound("Proxy", proxy_id)
        return proxy

    async def find(self, principal: Principal, filters: ProxyFilter, page: PageRequest) -> Page[Proxy]:
        return await self._ctx.store.proxies.find(principal.organization_id, filters, page)

    async def update(
        self, principal: Principal, proxy_id: str, changes: dict[str, Any], password: str | None, *,
        password_given: bool, ip: str | None,
    ) -> Proxy:  # fmt: skip
        if password_given:
            changes["password"] = self._seal(proxy_id, password)

        async def write(proxy: Proxy) -> Proxy:
            candidate = Proxy.model_validate(
                proxy.model_copy(update={**changes, "updated_at": self._ctx.clock.now()}).model_dump()
            )
            if candidate.password and not candidate.username:
                raise InvalidInput(
                    "A proxy password needs a username.", field="credentials.username", code="username_required"
                )
            return await self._ctx.store.proxies.update(candidate, expected_updated_at=proxy.updated_at)

        updated = await apply_over_read(lambda: self.get(principal, proxy_id), write)
        if password_given:
            await audit.record_now(
                self._ctx.uows, organization_id=principal.organization_id, actor=principal,
                action="proxy.credentials_set", target_type="proxy", target_id=proxy_id, ip=ip,
            )  # fmt: skip
        return updated

    async def delete(self, principal: Principal, proxy_id: str, *, unassign: bool, ip: str | None) -> list[str]:
        released = await self._ctx.store.proxies.delete(principal.organization_id, proxy_id, unassign=unassign)
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal, action="proxy.delete",
            target_type="proxy", target_id=proxy_id, ip=ip, details={"unassignedAccountIds": released},
        )  # fmt: skip
        return released

    async def test(self, principal: Principal, proxy_id: str) -> tuple[HealthUpdate, Proxy]:
        """Check the proxy now, under the same rules and with the same effects as the `proxy-health` schedule."""
        checked = await self._health.check(await self.get(principal, proxy_id), actor=principal)
        if checked is None:  # deleted while being tested
            raise NotFound("Proxy", proxy_id)
        return checked

    async def reveal(self, principal: Principal, proxy_id: str, *, ip: str | None) -> dict[str, str | None]:
        if not principal.is_admin:
            raise Forbidden("Only owners and admins can reveal proxy credentials.", code="role_required")
        proxy = await self.get(principal, proxy_id)
        password = self.password_of(proxy)
        await audit.record_now(
            self._ctx.uows, organization_id=principal.organization_id, actor=principal,
            action="proxy.credentials_reveal", target_type="proxy", target_id=proxy_id, ip=ip,
        )  # fmt: skip
        return {"username": proxy.username, "password": password}
