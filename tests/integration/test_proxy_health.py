"""Proxy health: the `proxy-health` Schedule on a real Temporal dev server, real pproxy proxies (one of them killed and
brought back), the platform sandbox, on SQL and on the Firestore emulator; the account flag in every document store;
and the hook that hears a proxy fail and recover."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleHandle

import tests.support.proxies as proxy_support
from adapters.crypto.fields import FieldCipher, Keyring
from adapters.proxy.checker import proxy_health
from adapters.sql.identity.store import SqlDocumentStore
from adapters.sql.uow import SqlUnitOfWorkFactory
from domain.audit import AuditFilter
from domain.clock import SystemClock
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from domain.identity.proxies import HealthRules, HealthStatus, HealthUpdate, ProxyFilter
from domain.organizations import Organization
from domain.pagination import PageRequest
from domain.services.identity.proxy_health import HealthChange
from domain.services.identity.souls import IdentityContext
from tests.conftest import Api, ApiFactory, make_settings
from tests.integration.publishing_desk import Desk, desk_settings, running_workers
from tests.platforms.conftest import Sandbox
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support import identity as make
from tests.support.proxies import CheckServer, PproxyServer
from tests.support.proxy_fixtures import PROXY_PASSWORD, PROXY_USERNAME
from workflows.proxy_health import ProxyHealthTotals
from workflows.schedules import ensure_schedule, proxy_health_schedule

sandbox_server = _sandbox_server
ORG = "org-health"


def _check(ok: bool) -> HealthUpdate:
    return HealthUpdate(
        checked_at=make.tick(), ok=ok, latency_ms=80 if ok else None, exit_ip="203.0.113.5" if ok else None,
        error=None if ok else "proxy unreachable: connection refused",
    )  # fmt: skip


async def _flags(store: DocumentStore, *account_ids: str) -> list[bool]:
    flags = []
    for account_id in account_ids:
        account = await store.accounts.get(ORG, account_id)
        assert account is not None
        flags.append(account.proxy_failed)
    return flags


async def test_a_failed_proxy_flags_exactly_its_accounts_in_every_store(document_store: DocumentStore) -> None:
    s, p, q = make.soul(ORG), make.proxy(ORG, name="dying"), make.proxy(ORG, name="fine")
    await document_store.souls.add(s)
    await document_store.proxies.add(p)
    await document_store.proxies.add(q)
    on_p = make.account(ORG, s.id, proxy_id=p.id)
    on_q = make.account(ORG, s.id, proxy_id=q.id)
    await document_store.accounts.add(on_p)
    await document_store.accounts.add(on_q)
    rules = HealthRules(failures_to_fail=2)

    first = await document_store.proxies.record_health(ORG, p.id, _check(False), rules)
    assert first is not None
    assert (first.proxy.health_status, first.failed_now) == (HealthStatus.DEGRADED, False)
    assert await _flags(document_store, on_p.id) == [False]  # one failure is a hiccup
    second = await document_store.proxies.record_health(ORG, p.id, _check(False), rules)
    assert second is not None
    assert (second.proxy.health_status, second.failed_now, second.previous) == (
        HealthStatus.FAILED, True, HealthStatus.DEGRADED,
    )  # fmt: skip
    assert await _flags(document_store, on_p.id, on_q.id) == [True, False]

    # Accounts that arrive on the failed proxy are flagged on the way in; one that leaves it is cleared.
    created = await document_store.accounts.add(make.account(ORG, s.id, proxy_id=p.id))
    assert created.proxy_failed is True
    assert await _flags(document_store, created.id) == [True]
    moved_on = await document_store.accounts.update(on_q.model_copy(update={"proxy_id": p.id}))
    moved_off = await document_store.accounts.update(on_p.model_copy(update={"proxy_id": q.id, "proxy_failed": True}))
    assert (moved_on.proxy_failed, moved_off.proxy_failed) == (True, False)
    assert await _flags(document_store, on_q.id, on_p.id) == [True, False]
    # An edit that does not move the account keeps the flag, whatever the caller's copy says.
    renamed = await document_store.accounts.update(
        moved_on.model_copy(update={"display_name": "x", "proxy_failed": False})
    )
    assert renamed.proxy_failed is True
    assert await _flags(document_store, on_q.id) == [True]

    recovered = await document_store.proxies.record_health(ORG, p.id, _check(True), rules)
    assert recovered is not None
    assert (recovered.proxy.health_status, recovered.recovered) == (HealthStatus.HEALTHY, True)
    assert recovered.proxy.uptime_percentage == 33.3
    assert await _flags(document_store, created.id, on_q.id, on_p.id) == [False, False, False]

    for _ in range(2):
        await document_store.proxies.record_health(ORG, p.id, _check(False), rules)
    assert await _flags(document_store, created.id, on_q.id) == [True, True]
    await document_store.proxies.delete(ORG, p.id, unassign=True)
    assert await _flags(document_store, created.id, on_q.id) == [False, False]  # no proxy, nothing failing


async def test_the_hook_and_the_audit_hear_a_real_proxy_fail_and_recover(
    clean_db: AsyncEngine, refusing_port: int, proxy_check_server: CheckServer
) -> None:
    settings = make_settings(proxy_check_url=proxy_check_server.url(), proxy_failures_to_fail=3)
    store, uows = SqlDocumentStore(clean_db), SqlUnitOfWorkFactory.for_engine(clean_db)
    heard: list[HealthChange] = []

    async def hook(change: HealthChange) -> None:
        heard.append(change)

    cipher = FieldCipher(Keyring.parse(settings.encryption_keys))
    health = proxy_health(settings, IdentityContext(store=store, uows=uows, clock=SystemClock()), cipher, hook)
    s = make.soul(ORG)
    await store.souls.add(s)
    proxy = make.proxy(ORG, name="refusing", host="127.0.0.1", port=refusing_port)
    await store.proxies.add(proxy)
    account = await store.accounts.add(make.account(ORG, s.id, proxy_id=proxy.id))

    statuses = []
    for _ in range(3):
        checked = await health.check(proxy)
        assert checked is not None
        statuses.append(checked[1].health_status.value)
    assert statuses == ["degraded", "degraded", "failed"]  # the configured three failures in a row
    assert [(c.proxy_id, c.failed, c.account_ids) for c in heard] == [(proxy.id, True, [account.id])]
    assert heard[0].error == "proxy unreachable: connection refused"

    # The operator points the proxy at a working one: the next test passes, the hook hears the recovery.
    with PproxyServer("http", PROXY_USERNAME, PROXY_PASSWORD) as server:
        fixed = proxy.model_copy(update={
            "port": server.port, "username": PROXY_USERNAME,
            "password": cipher.encrypt(PROXY_PASSWORD, record=f"proxies/{proxy.id}", field="credentials.password"),
        })  # fmt: skip
        await store.proxies.update(fixed)
        checked = await health.check(fixed)
        relay = server.pid
    assert checked is not None
    assert (checked[0].ok, checked[1].health_status) == (True, HealthStatus.HEALTHY)
    assert [c.failed for c in heard] == [True, False]
    assert [h.owner_pid for h in proxy_check_server.hits] == [relay]
    async with uows.reading() as uow:
        entries = (await uow.audit.list(ORG, AuditFilter(), PageRequest())).items
    assert sorted((e.action, e.actor_id, e.target_id) for e in entries) == [
        ("proxy.health_failed", "proxy-health", proxy.id),
        ("proxy.health_recovered", "proxy-health", proxy.id),
    ]
    failed_entry = next(e for e in entries if e.action == "proxy.health_failed")
    assert failed_entry.details["accountIds"] == [account.id]
    assert failed_entry.details["consecutiveFailures"] == 3


async def test_a_run_checks_every_proxy_of_every_organization_once_in_batches(
    clean_db: AsyncEngine, refusing_port: int
) -> None:
    store, uows = SqlDocumentStore(clean_db), SqlUnitOfWorkFactory.for_engine(clean_db)
    settings = make_settings(proxy_check_url="http://127.0.0.1:9/")
    health = proxy_health(
        settings, IdentityContext(store=store, uows=uows, clock=SystemClock()),
        FieldCipher(Keyring.parse(settings.encryption_keys)),
    )  # fmt: skip
    expected: set[str] = set()
    plan = (("org-a", 3), ("org-b", 0), ("org-c", 2))
    async with uows() as uow:
        for org, _ in plan:
            now = make.tick()
            await uow.organizations.add(Organization(id=org, name=org, created_at=now, updated_at=now))
        await uow.commit()
    for org, count in plan:
        for _ in range(count):
            proxy = make.proxy(org, host="127.0.0.1", port=refusing_port)
            await store.proxies.add(proxy)
            expected.add(proxy.id)

    since = SystemClock().now()
    batches, after = 0, None
    while True:
        batch = await health.check_batch(after, limit=2, concurrency=2, since=since)
        batches += 1
        assert batch.checked == batch.degraded  # one refused connection each: degraded, not failed yet
        assert batch.errors == []
        if batch.next is None:
            break
        after = batch.next
    checked = [
        p for org in ("org-a", "org-c") for p in (await store.proxies.find(org, ProxyFilter(), PageRequest())).items
    ]
    assert {p.id for p in checked} == expected
    assert all(p.recent_checks == "0" for p in checked)  # each proxy exactly once
    assert batches == 3
    # A retried batch of the same run skips what the run already checked.
    again = await health.check_batch(None, limit=10, concurrency=2, since=since)
    assert (again.checked, again.skipped, again.next) == (0, 5, None)


# --- the Schedule, end to end ---------------------------------------------------------------------------------


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture(params=["sql", "firestore"])
async def document_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sql":
        return {}
    emulator = request.getfixturevalue("firestore_emulator")
    await emulator.reset_async()
    return {"document_store": "firestore", "firestore_emulator_host": emulator.host}


@pytest.fixture
def dying_proxy() -> Iterator[PproxyServer]:
    """A proxy of this test's own, so the test can kill it and bring it back on the same port."""
    with PproxyServer("http", PROXY_USERNAME, PROXY_PASSWORD) as server:
        yield server


@pytest.fixture
async def desk(
    api_factory: ApiFactory,
    sandbox: Sandbox,
    temporal_client: Client,
    task_queue: str,
    proxy_check_server: CheckServer,
    document_settings: dict[str, Any],
) -> AsyncIterator[Desk]:
    api = await api_factory(
        **desk_settings(sandbox, task_queue),
        **document_settings,
        proxy_check_url=proxy_check_server.url(),
        proxy_check_timeout_s=5.0,
        proxy_failures_to_fail=2,
    )
    h = (await api.register())["headers"]
    async with running_workers(api, temporal_client):
        yield Desk(api, h, sandbox, temporal_client)


@pytest.fixture
async def schedule(temporal_client: Client, task_queue: str) -> AsyncIterator[ScheduleHandle]:
    """The `proxy-health` schedule as the worker creates it, under a name of this test's own; an hour apart, so
    only `trigger()` starts its runs."""
    schedule_id = f"proxy-health-{task_queue}"
    await ensure_schedule(temporal_client, schedule_id, proxy_health_schedule(task_queue, 3600))
    handle = temporal_client.get_schedule_handle(schedule_id)
    yield handle
    await handle.delete()


async def _run(client: Client, handle: ScheduleHandle) -> ProxyHealthTotals:
    """Trigger the schedule and wait for the run it starts."""
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()
    for _ in range(300):
        described = await handle.describe()
        if len(described.info.recent_actions) > before:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the triggered run never started")
    action = described.info.recent_actions[-1].action
    assert isinstance(action, ScheduleActionExecutionStartWorkflow)
    totals: ProxyHealthTotals = await client.get_workflow_handle(
        action.workflow_id, result_type=ProxyHealthTotals
    ).result()
    return totals


async def _get(api: Api, h: dict[str, str], path: str) -> dict[str, Any]:
    response = await api.http.get(path, headers=h)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_the_schedule_fails_a_dead_proxy_flags_its_account_and_publishing_fails_fast(
    desk: Desk,
    schedule: ScheduleHandle,
    dying_proxy: PproxyServer,
    pproxy_socks5: PproxyServer,
    proxy_check_server: CheckServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, h = desk.api, desk.h
    dying_id = await desk.proxy(dying_proxy)
    healthy_id = await desk.proxy(pproxy_socks5)
    channel = await desk.channel(Platform.X, proxy_id=dying_id)
    steady = await api.http.post(
        "/axon/accounts", json={"soulId": channel.soul_id, "platform": "linkedin", "handle": "steady",
                                "proxyId": healthy_id}, headers=h,
    )  # fmt: skip
    assert steady.status_code == 201, steady.text
    # Another organization's proxy: the schedule visits every organization.
    other = (await api.register(org="Other"))["headers"]
    elsewhere = await api.http.post("/axon/proxies", headers=other, json={
        "name": "elsewhere", "type": "mobile", "protocol": "socks5", "host": "127.0.0.1", "port": pproxy_socks5.port,
        "credentials": {"username": PROXY_USERNAME, "password": api.secret(PROXY_PASSWORD)},
    })  # fmt: skip
    assert elsewhere.status_code == 201, elsewhere.text

    first = await _run(desk.client, schedule)
    assert (first.checked, first.healthy, first.failed) == (3, 3, 0)
    healthy = await _get(api, h, f"/axon/proxies/{healthy_id}")
    assert (healthy["healthStatus"], healthy["uptimePercentage"]) == ("healthy", 100.0)
    assert isinstance(healthy["responseTimeMs"], int)
    assert healthy["exitIp"] == "127.0.0.1"
    assert (await _get(api, other, f"/axon/proxies/{elsewhere.json()['id']}"))["healthStatus"] == "healthy"
    # Every check went through a proxy process; none came straight from this process.
    assert {hit.owner_pid for hit in proxy_check_server.hits} == {dying_proxy.pid, pproxy_socks5.pid}
    assert os.getpid() not in {hit.owner_pid for hit in proxy_check_server.hits}

    port = dying_proxy.port
    dying_proxy.stop()
    second = await _run(desk.client, schedule)
    assert (second.degraded, second.newly_failed) == (1, [])
    dying = await _get(api, h, f"/axon/proxies/{dying_id}")
    assert (dying["healthStatus"], dying["lastError"]) == ("degraded", "proxy unreachable: connection refused")
    assert (await _get(api, h, f"/axon/accounts/{channel.account_id}"))["proxyFailed"] is False

    third = await _run(desk.client, schedule)
    assert (third.failed, third.newly_failed) == (1, [dying_id])
    dying = await _get(api, h, f"/axon/proxies/{dying_id}")
    assert (dying["healthStatus"], dying["responseTimeMs"], dying["uptimePercentage"]) == ("failed", None, 33.3)
    assert (await _get(api, h, f"/axon/accounts/{channel.account_id}"))["proxyFailed"] is True
    assert (await _get(api, h, f"/axon/accounts/{steady.json()['id']}"))["proxyFailed"] is False
    audit = await _get(api, h, "/axon/audit-logs?action=proxy.health_failed")
    assert [(e["targetId"], e["actorType"], e["details"]["accountIds"]) for e in audit["items"]] == [
        (dying_id, "system", [channel.account_id])
    ]

    # Publishing through the failed proxy stops before any request leaves: no other IP, no direct call.
    requests_before = len(desk.sandbox.requests(Platform.X))
    post = await desk.post(soulId=channel.soul_id, content="Through a failed proxy")
    refused = (await desk.settled(post["id"]))["deliveries"][0]
    assert (refused["state"], refused["errorCode"], refused["attempts"]) == ("FAILED", "ProxyFailed", 1)
    assert refused["lastError"] == (
        f"proxy proxy-http failed its health check at {dying['lastHealthCheck'][:19]}+00:00; "
        "test it or assign another proxy"
    )
    assert len(desk.sandbox.requests(Platform.X)) == requests_before
    assert desk.platform_posts(Platform.X) == []

    # The proxy comes back on the same address: the next run finds it healthy and clears the flag.
    monkeypatch.setattr(proxy_support, "free_port", lambda: port)
    dying_proxy.start()
    fourth = await _run(desk.client, schedule)
    assert (fourth.recovered, fourth.newly_failed) == ([dying_id], [])
    back = await _get(api, h, f"/axon/proxies/{dying_id}")
    assert (back["healthStatus"], back["uptimePercentage"], back["lastError"]) == ("healthy", 50.0, None)
    assert (await _get(api, h, f"/axon/accounts/{channel.account_id}"))["proxyFailed"] is False
    recovered = await _get(api, h, "/axon/audit-logs?action=proxy.health_recovered")
    assert [e["targetId"] for e in recovered["items"]] == [dying_id]

    # The user retries after the fix: published, through the proxy.
    retried = await api.http.post(f"/axon/posts/{post['id']}/deliveries/{refused['id']}/retry", headers=h)
    assert retried.status_code == 200, retried.text
    assert (await desk.settled(post["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Through a failed proxy"]


async def test_the_manual_test_follows_the_same_rules_and_flags(api_factory: ApiFactory, refusing_port: int,
                                                                proxy_check_server: CheckServer) -> None:  # fmt: skip
    api = await api_factory(proxy_check_url=proxy_check_server.url(), proxy_failures_to_fail=2)
    h = (await api.register())["headers"]
    soul = (await api.http.post("/axon/souls", json={"name": "Brand"}, headers=h)).json()
    proxy = await api.http.post("/axon/proxies", headers=h, json={
        "name": "gone", "type": "datacenter", "protocol": "http", "host": "127.0.0.1", "port": refusing_port,
    })  # fmt: skip
    proxy_id = proxy.json()["id"]
    account = await api.http.post(
        "/axon/accounts", json={"soulId": soul["id"], "platform": "x", "handle": "brand", "proxyId": proxy_id},
        headers=h,
    )  # fmt: skip
    account_id = account.json()["id"]
    assert account.json()["proxyFailed"] is False
    tested = [(await api.http.post(f"/axon/proxies/{proxy_id}/test", headers=h)).json() for _ in range(2)]
    assert [t["proxy"]["healthStatus"] for t in tested] == ["degraded", "failed"]
    assert (await _get(api, h, f"/axon/accounts/{account_id}"))["proxyFailed"] is True
    audit = await _get(api, h, "/axon/audit-logs?action=proxy.health_failed")
    assert [(e["targetId"], e["actorType"]) for e in audit["items"]] == [(proxy_id, "user")]
    # A new account on the failed proxy is flagged from the start.
    late = await api.http.post(
        "/axon/accounts", json={"soulId": soul["id"], "platform": "x", "handle": "late", "proxyId": proxy_id},
        headers=h,
    )  # fmt: skip
    assert late.json()["proxyFailed"] is True
    unassigned = await api.http.patch(f"/axon/accounts/{account_id}/proxy", json={"proxyId": None}, headers=h)
    assert unassigned.status_code == 200, unassigned.text
    assert unassigned.json()["proxyFailed"] is False
