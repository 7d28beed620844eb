from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, Field


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


# A check slower than this still works but marks the proxy degraded.
DEGRADED_LATENCY_MS = 3000
# The rolling uptime covers this many most recent checks.
UPTIME_WINDOW = 50


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


def apply_health(proxy: Proxy, update: HealthUpdate) -> Proxy:
    """The proxy after one more health check: status, latency and the rolling uptime."""
    recent = (proxy.recent_checks + ("1" if update.ok else "0"))[-UPTIME_WINDOW:]
    if not update.ok:
        status = HealthStatus.FAILED
    elif update.latency_ms is not None and update.latency_ms > DEGRADED_LATENCY_MS:
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


def proxy_record(proxy_id: str) -> str:
    return f"proxies/{proxy_id}"
