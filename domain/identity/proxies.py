from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ProxyType(enum.StrEnum):
    RESIDENTIAL = "residential"
    DATACENTER = "datacenter"
    MOBILE = "mobile"
    ISP = "isp"


class ProxyProtocol(enum.StrEnum):
    HTTP = "http"
    HTTPS = "https"
    SOCKS5 = "socks5"


class ProxyStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class HealthStatus(enum.StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILED = "failed"


# The rolling uptime covers this many most recent checks (`recent_checks` keeps them; its column holds 64).
UPTIME_WINDOW = 50


class HealthRules(BaseModel):
    """How check outcomes become a health status. One failed check is a hiccup (degraded); `failures_to_fail`
    failed checks in a row make the proxy failed, which flags its accounts and stops publishing through it. A check
    that passes but takes longer than `degraded_latency_ms` also marks it degraded. One passing check makes a failed
    proxy usable again."""

    model_config = ConfigDict(frozen=True)

    failures_to_fail: int = Field(default=2, ge=1, le=UPTIME_WINDOW)
    degraded_latency_ms: int = Field(default=3000, ge=1)


class Proxy(BaseModel):
    """An outbound proxy. `assigned_account_ids` is maintained by the stores from the accounts' `proxy_id`; the
    password is sealed, bound to `proxies/<id>` and `credentials.password`."""

    id: str
    organization_id: str
    name: str
    type: ProxyType
    protocol: ProxyProtocol
    host: str
    port: int
    username: str | None = None
    password: dict[str, str] | None = None
    provider: str | None = None
    country: str | None = None
    city: str | None = None
    status: ProxyStatus = ProxyStatus.ACTIVE
    assigned_account_ids: list[str] = Field(default_factory=list)
    last_health_check: datetime | None = None
    health_status: HealthStatus = HealthStatus.UNKNOWN
    response_time_ms: int | None = None
    uptime_percentage: float | None = None
    # Outcomes of the latest checks, newest last: "1" passed, "0" failed.
    recent_checks: str = ""
    last_error: str | None = None
    exit_ip: str | None = None
    created_at: datetime
    updated_at: datetime


class ProxyFilter(BaseModel):
    status: ProxyStatus | None = None
    health_status: HealthStatus | None = None


class HealthUpdate(BaseModel):
    checked_at: datetime
    ok: bool
    latency_ms: int | None
    exit_ip: str | None
    error: str | None


class HealthRecord(BaseModel):
    """A recorded check: the proxy after it, and its health status before it."""

    proxy: Proxy
    previous: HealthStatus

    @property
    def failed_now(self) -> bool:
        return self.proxy.health_status is HealthStatus.FAILED and self.previous is not HealthStatus.FAILED

    @property
    def recovered(self) -> bool:
        return self.previous is HealthStatus.FAILED and self.proxy.health_status is not HealthStatus.FAILED


def consecutive_failures(recent_checks: str) -> int:
    return len(recent_checks) - len(recent_checks.rstrip("0"))


def apply_health(proxy: Proxy, update: HealthUpdate, rules: HealthRules) -> Proxy:
    """The proxy after one more health check: status, latency and the rolling uptime.

    uptimePercentage is the share of passed checks among the last UPTIME_WINDOW (50) checks, or among all of them
    while there are fewer: at the default 5-minute interval, roughly the last four hours. A slow check counts as up."""
    recent = (proxy.recent_checks + ("1" if update.ok else "0"))[-UPTIME_WINDOW:]
    if not update.ok:
        failing = consecutive_failures(recent) >= rules.failures_to_fail
        status = HealthStatus.FAILED if failing else HealthStatus.DEGRADED
    elif update.latency_ms is not None and update.latency_ms > rules.degraded_latency_ms:
        status = HealthStatus.DEGRADED
    else:
        status = HealthStatus.HEALTHY
    return proxy.model_copy(
        update={
            "recent_checks": recent,
            "uptime_percentage": round(100 * recent.count("1") / len(recent), 1),
            "health_status": status,
            "response_time_ms": update.latency_ms if update.ok else None,
            "last_health_check": update.checked_at,
            "last_error": update.error,
            "exit_ip": update.exit_ip if update.ok else proxy.exit_ip,
        }
    )


def failed_reason(proxy: Proxy) -> str | None:
    """Why nothing may go out through this proxy now, or None while it may. A failed proxy is never swapped for
    another IP or a direct connection: the user tests it again or assigns another proxy."""
    if proxy.health_status is not HealthStatus.FAILED:
        return None
    at = f" at {proxy.last_health_check.isoformat(timespec='seconds')}" if proxy.last_health_check else ""
    return f"proxy {proxy.name} failed its health check{at}; test it or assign another proxy"


def proxy_record(proxy_id: str) -> str:
    return f"proxies/{proxy_id}"
