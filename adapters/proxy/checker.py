"""The proxy checker the services use: a Proxy record in, a HealthUpdate out, through `check_proxy`; and the proxy
health service both processes (API and worker) build from the same settings."""

from __future__ import annotations

from adapters.proxy.check import check_proxy
from adapters.proxy.transport import ProxyEndpoint
from domain.clock import Clock
from domain.identity.proxies import HealthRules, HealthUpdate, Proxy
from domain.ports import FieldSealer
from domain.services.identity.proxy_health import HealthChangeHook, ProxyHealth
from domain.services.identity.souls import IdentityContext
from settings import Settings


def endpoint_of(proxy: Proxy, password: str | None) -> ProxyEndpoint:
    return ProxyEndpoint(
        protocol=proxy.protocol.value,
        host=proxy.host,
        port=proxy.port,
        username=proxy.username,
        password=password,
    )


class HttpProxyChecker:
    def __init__(self, check_url: str, timeout_s: float, clock: Clock) -> None:
        self._check_url = check_url
        self._timeout_s = timeout_s
        self._clock = clock

    async def check(self, proxy: Proxy, password: str | None) -> HealthUpdate:
        result = await check_proxy(endpoint_of(proxy, password), self._check_url, timeout=self._timeout_s)
        return HealthUpdate(
            checked_at=self._clock.now(), ok=result.ok, latency_ms=result.latency_ms, exit_ip=result.exit_ip,
            error=result.error,
        )  # fmt: skip


def health_rules(settings: Settings) -> HealthRules:
    return HealthRules(
        failures_to_fail=settings.proxy_failures_to_fail, degraded_latency_ms=settings.proxy_degraded_latency_ms
    )


def proxy_health(
    settings: Settings, ctx: IdentityContext, sealer: FieldSealer, on_change: HealthChangeHook | None = None
) -> ProxyHealth:
    """`on_change` is called when a proxy becomes failed or recovers (after the accounts' flags are set and the
    change is audited): the hook for pausing and resuming the accounts' warming."""
    checker = HttpProxyChecker(settings.proxy_check_url, settings.proxy_check_timeout_s, ctx.clock)
    return ProxyHealth(ctx, sealer, checker, health_rules(settings), on_change)
