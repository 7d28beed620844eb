"""The proxy checker the services use: a Proxy record in, a HealthUpdate out, through `check_proxy`."""

from __future__ import annotations

from adapters.proxy.check import check_proxy
from adapters.proxy.transport import ProxyEndpoint
from domain.clock import Clock
from domain.identity.proxies import HealthUpdate, Proxy


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
