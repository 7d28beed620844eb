"""The health rules on their own: how check outcomes become healthy, degraded or failed, and the rolling uptime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.identity.proxies import (
    UPTIME_WINDOW,
    HealthRecord,
    HealthRules,
    HealthStatus,
    HealthUpdate,
    Proxy,
    ProxyProtocol,
    ProxyType,
    apply_health,
    failed_reason,
)

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _proxy() -> Proxy:
    return Proxy(
        id="p1", organization_id="o1", name="Berlin 1", type=ProxyType.DATACENTER, protocol=ProxyProtocol.HTTP,
        host="10.0.0.1", port=8080, created_at=T0, updated_at=T0,
    )  # fmt: skip


def _check(ok: bool, minute: int = 0, latency_ms: int = 120) -> HealthUpdate:
    return HealthUpdate(
        checked_at=T0 + timedelta(minutes=minute), ok=ok, latency_ms=latency_ms if ok else None,
        exit_ip="203.0.113.7" if ok else None, error=None if ok else "proxy unreachable: connection refused",
    )  # fmt: skip


def _run(outcomes: list[bool], rules: HealthRules | None = None) -> list[Proxy]:
    proxy, seen = _proxy(), []
    for minute, ok in enumerate(outcomes):
        proxy = apply_health(proxy, _check(ok, minute), rules or HealthRules())
        seen.append(proxy)
    return seen


def test_one_failure_degrades_and_the_configured_run_of_failures_fails() -> None:
    statuses = [p.health_status for p in _run([True, False, False, False])]
    assert statuses == [HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.FAILED, HealthStatus.FAILED]
    three = [p.health_status for p in _run([False, False, False], HealthRules(failures_to_fail=3))]
    assert three == [HealthStatus.DEGRADED, HealthStatus.DEGRADED, HealthStatus.FAILED]
    strict = [p.health_status for p in _run([False], HealthRules(failures_to_fail=1))]
    assert strict == [HealthStatus.FAILED]


def test_failures_must_be_consecutive_and_one_pass_recovers() -> None:
    seen = _run([False, True, False, True, False, False, True])
    assert [p.health_status.value for p in seen] == [
        "degraded", "healthy", "degraded", "healthy", "degraded", "failed", "healthy",
    ]  # fmt: skip
    assert seen[-1].response_time_ms == 120
    assert seen[-1].last_error is None


def test_a_slow_pass_is_degraded_but_up() -> None:
    rules = HealthRules(degraded_latency_ms=3000)
    slow = apply_health(_proxy(), _check(True, latency_ms=3001), rules)
    assert (slow.health_status, slow.response_time_ms, slow.uptime_percentage) == (HealthStatus.DEGRADED, 3001, 100.0)
    at_limit = apply_health(_proxy(), _check(True, latency_ms=3000), rules)
    assert at_limit.health_status is HealthStatus.HEALTHY


def test_uptime_is_the_share_of_passes_over_the_last_fifty_checks() -> None:
    assert _run([True, False, False])[-1].uptime_percentage == 33.3
    # 50 failures, then 25 passes: the window holds the last 50, 25 of them passes.
    last = _run([False] * 50 + [True] * 25)[-1]
    assert len(last.recent_checks) == UPTIME_WINDOW
    assert last.uptime_percentage == 50.0
    failed = _run([True, False, False])[-1]
    assert failed.response_time_ms is None
    assert failed.exit_ip == "203.0.113.7"  # the last address seen working stays for the operator


def test_transitions_and_the_reason_publishing_gives() -> None:
    healthy, degraded, failed, recovered = _run([True, False, False, True])
    assert HealthRecord(proxy=failed, previous=degraded.health_status).failed_now
    assert not HealthRecord(proxy=degraded, previous=healthy.health_status).failed_now
    assert HealthRecord(proxy=recovered, previous=failed.health_status).recovered
    assert not HealthRecord(proxy=failed, previous=failed.health_status).failed_now
    assert failed_reason(healthy) is None
    assert failed_reason(degraded) is None
    assert failed_reason(failed) == (
        "proxy Berlin 1 failed its health check at 2026-11-22T10:02:00+00:00; test it or assign another proxy"
    )
