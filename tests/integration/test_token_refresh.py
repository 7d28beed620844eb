"""TokenRefreshWorkflow on a real Temporal dev server against the sandbox (real HTTP), through real proxies."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from sqlalchemy import select, update
from temporalio.client import Client
from temporalio.worker import Worker

from activities.autolink import AutoLinkActivities
from activities.token_refresh import UNKNOWN_OUTCOME, TokenRefreshActivities, refresh_fingerprint
from adapters.platforms.registry import platform_connectors
from adapters.sql.channels import INTEGRATION
from domain.clock import SystemClock, utcnow
from domain.identity.platforms import Platform
from tests.conftest import Api, ApiFactory
from tests.platforms.conftest import PYTHON, ROOT, Sandbox, browser_step
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer
from workflows.autolink import AutoLinkWorkflow
from workflows.search_attributes import ACCOUNT_ID, INTEGRATION_ID, PLATFORM
from workflows.token_refresh import TokenRefreshState, TokenRefreshWorkflow

sandbox_server = _sandbox_server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@asynccontextmanager
async def _worker(api: Api, client: Client, task_queue: str) -> AsyncIterator[Worker]:
    clock = SystemClock()
    refresh = TokenRefreshActivities(api.container.documents, api.container.uow, api.container.cipher,
                                     platform_connectors(api.container.settings), clock)  # fmt: skip
    # Connecting also starts an auto-link: this worker runs it too, as the real one does.
    autolink = AutoLinkActivities(api.container.documents, api.container.uow, clock)
    async with Worker(client, task_queue=task_queue, workflows=[TokenRefreshWorkflow, AutoLinkWorkflow],
                      activities=[refresh.plan, refresh.refresh, autolink.link]) as worker:  # fmt: skip
        yield worker


async def _connect_x(api: Api, h: dict[str, str]) -> str:
    start = (await api.http.get("/integrations/social/x", headers=h)).json()
    response = await api.http.post("/integrations/social/x/connect", json=browser_step(start["url"]), headers=h)
    assert response.status_code == 200, response.text
    integration_id: str = response.json()["id"]
    return integration_id


async def _stored(api: Api, integration_id: str) -> Any:
    async with api.container.engine.connect() as conn:
        stmt = select(INTEGRATION.c.token, INTEGRATION.c.refresh_needed).where(INTEGRATION.c.id == integration_id)
        return (await conn.execute(stmt)).one()


async def _until(check: Callable[[], Awaitable[bool]], within_s: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.2)


def _refreshes(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests(Platform.X) if r["path"].endswith("/2/oauth2/token") and r["status"] == 200]


async def _state(client: Client, integration_id: str) -> TokenRefreshState:
    state: TokenRefreshState = await client.get_workflow_handle(f"token-refresh:{integration_id}").query(
        TokenRefreshWorkflow.state
    )
    return state


async def test_the_timer_refreshes_before_expiry_and_stores_the_rotated_tokens(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str
) -> None:
    # X access tokens last 2 h here: with a margin of 2 h minus 3 s the refresh falls due 3 s after connecting.
    api = await api_factory(sandbox_port=sandbox.port, token_refresh_margin_s=2 * 3600 - 3)
    h = (await api.register())["headers"]
    async with _worker(api, temporal_client, api.container.settings.temporal_task_queue):
        integration_id = await _connect_x(api, h)
        before = (await _stored(api, integration_id)).token
        connects = len(_refreshes(sandbox))

        async def refreshed() -> bool:
            return bool((await _stored(api, integration_id)).token != before)

        await _until(refreshed)
        assert len(_refreshes(sandbox)) == connects + 1

        async def waiting_again() -> bool:  # the stored token changes a moment before the workflow loops
            state = await _state(temporal_client, integration_id)
            return state.phase == "waiting" and state.refreshes == 1

        await _until(waiting_again)
        assert len(_refreshes(sandbox)) == connects + 1  # and no second refresh: the next one is hours away
        await temporal_client.get_workflow_handle(f"token-refresh:{integration_id}").signal(TokenRefreshWorkflow.stop)
        async with asyncio.timeout(30):
            final: TokenRefreshState = await temporal_client.get_workflow_handle(
                f"token-refresh:{integration_id}", result_type=TokenRefreshState
            ).result()
        assert final.phase == "stopped"


async def test_refresh_now_with_two_workers_never_reuses_a_rotated_token(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api = await api_factory(sandbox_port=sandbox.port)
    h = (await api.register())["headers"]
    queue = api.container.settings.temporal_task_queue
    # A second worker process in miniature: its own client (a client serves one worker per task queue).
    second = await Client.connect(
        temporal_client.service_client.config.target_host, data_converter=temporal_client.data_converter
    )
    async with _worker(api, temporal_client, queue), _worker(api, second, queue):
        integration_id = await _connect_x(api, h)
        for _ in range(4):
            assert (await api.http.post(f"/integrations/{integration_id}/refresh", headers=h)).status_code == 202

        async def settled() -> bool:
            state = await _state(temporal_client, integration_id)
            return state.phase == "waiting" and state.refreshes >= 1 and not (await _stored(api, integration_id))[1]

        await _until(settled)
        # X revokes the whole grant when a used refresh token comes back: the channel would need reconnecting.
        assert (await _stored(api, integration_id)).refresh_needed is False
        listed = (await api.http.get("/integrations/list", headers=h)).json()
        assert listed[0]["refreshNeeded"] is False


async def test_a_revoked_grant_marks_the_channel_and_ends_the_workflow(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api = await api_factory(sandbox_port=sandbox.port)
    h = (await api.register())["headers"]
    async with _worker(api, temporal_client, api.container.settings.temporal_task_queue):
        integration_id = await _connect_x(api, h)
        # The user removes the app at X: revoking the access token ends the whole grant, refresh token included.
        sealed = (await _stored(api, integration_id)).token
        token = api.container.cipher.decrypt_str(sealed, record=f"integrations/{integration_id}", field="token")
        await platform_connectors(api.container.settings)[Platform.X].revoke(token=token, proxy=None)
        await api.http.post(f"/integrations/{integration_id}/refresh", headers=h)
        async with asyncio.timeout(30):
            final: TokenRefreshState = await temporal_client.get_workflow_handle(
                f"token-refresh:{integration_id}", result_type=TokenRefreshState
            ).result()
    assert final.phase == "ended: revoked"
    listed = (await api.http.get("/integrations/list", headers=h)).json()
    assert (listed[0]["refreshNeeded"], listed[0]["status"]) == (True, "refresh_needed")
    actions = [e["action"] for e in (await api.http.get("/axon/audit-logs", headers=h)).json()["items"]]
    assert "integration.refresh_needed" in actions


async def _link_through_proxy(api: Api, h: dict[str, str], integration_id: str, port: int, server: PproxyServer | None
                              ) -> None:  # fmt: skip
    creds = {"username": server.username, "password": server.password} if server else None
    proxy = (await api.http.post("/axon/proxies", headers=h, json={
        "name": "p", "type": "residential", "protocol": "http", "host": "127.0.0.1", "port": port,
        **({"credentials": creds} if creds else {})})).json()  # fmt: skip
    soul = (await api.http.post("/axon/souls", json={"name": "S"}, headers=h)).json()
    account = (await api.http.post("/axon/accounts", headers=h, json={
        "soulId": soul["id"], "platform": "x", "handle": "sandboxbrand", "proxyId": proxy["id"]})).json()  # fmt: skip
    linked = await api.http.patch(f"/axon/accounts/{account['id']}/integration", json={"integrationId": integration_id},
                                  headers=h)  # fmt: skip
    assert linked.status_code == 200


async def test_refresh_goes_through_the_linked_accounts_proxy_and_never_around_a_dead_one(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, pproxy_http: PproxyServer, refusing_port: int
) -> None:
    api = await api_factory(sandbox_port=sandbox.port)
    h = (await api.register())["headers"]
    async with _worker(api, temporal_client, api.container.settings.temporal_task_queue):
        working = await _connect_x(api, h)
        await _link_through_proxy(api, h, working, pproxy_http.port, pproxy_http)
        before = len(_refreshes(sandbox))
        await api.http.post(f"/integrations/{working}/refresh", headers=h)

        async def done() -> bool:
            return len(_refreshes(sandbox)) > before

        await _until(done)

        async def tagged() -> bool:
            described = await temporal_client.get_workflow_handle(f"token-refresh:{working}").describe()
            return described.typed_search_attributes.get(ACCOUNT_ID) is not None

        await _until(tagged)
        attributes = (
            await temporal_client.get_workflow_handle(f"token-refresh:{working}").describe()
        ).typed_search_attributes
        assert attributes.get(INTEGRATION_ID) == working
        assert attributes.get(PLATFORM) == "x"

        h2 = (await api.register())["headers"]
        dead = await _connect_x(api, h2)
        await _link_through_proxy(api, h2, dead, refusing_port, None)
        before = len([r for r in sandbox.requests(Platform.X) if r["path"].endswith("/2/oauth2/token")])
        await api.http.post(f"/integrations/{dead}/refresh", headers=h2)
        await asyncio.sleep(4)  # the activity fails and retries with backoff; nothing may reach the platform
        after = len([r for r in sandbox.requests(Platform.X) if r["path"].endswith("/2/oauth2/token")])
        assert after == before
        state = await _state(temporal_client, dead)
        assert state.phase == "refreshing"
        await temporal_client.get_workflow_handle(f"token-refresh:{dead}").terminate("test over")


# --- a worker killed while the platform is rotating the refresh token ----------------------------------------------


@contextmanager
def _worker_process(api: Api) -> Iterator[subprocess.Popen[bytes]]:
    """`python worker.py` as `make run` starts it, pointed at the test database, Temporal and sandbox."""
    s = api.container.settings
    env = {
        **os.environ,
        "ENVIRONMENT": "test",
        "DATABASE_URL": s.effective_database_url,
        "TEMPORAL_ADDRESS": s.temporal_address,
        "TEMPORAL_TASK_QUEUE": s.temporal_task_queue,
        "SANDBOX_PORT": str(s.sandbox_port),
        "PLATFORM_QUEUE_PREFIX": f"{s.temporal_task_queue}-",
        "RECONCILE_EVERY_S": "3600",
    }
    proc = subprocess.Popen([str(PYTHON if PYTHON.exists() else sys.executable), "worker.py"], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def _token_calls(sandbox: Sandbox) -> list[dict[str, Any]]:
    """Every request to X's token endpoint: the code exchange of connecting, then one per refresh token presented."""
    return [r for r in sandbox.requests(Platform.X) if r["path"].endswith("/2/oauth2/token")]


async def _journal(api: Api, integration_id: str) -> Any:
    async with api.container.engine.connect() as conn:
        stmt = select(INTEGRATION.c.refresh_in_flight_at, INTEGRATION.c.refresh_in_flight_fingerprint).where(
            INTEGRATION.c.id == integration_id
        )
        return (await conn.execute(stmt)).one()


async def test_a_worker_killed_mid_refresh_never_presents_the_spent_refresh_token_again(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api = await api_factory(sandbox_port=sandbox.port)
    h = (await api.register())["headers"]
    with _worker_process(api) as first:
        integration_id = await _connect_x(api, h)
        connected = len(_token_calls(sandbox))
        # X takes 3 s to answer the refresh: the worker dies while X rotates the refresh token.
        sandbox.fault(Platform.X, "slow", endpoint="/2/oauth2/token", delay_s=3.0)
        assert (await api.http.post(f"/integrations/{integration_id}/refresh", headers=h)).status_code == 202

        async def sent() -> bool:
            return len(_token_calls(sandbox)) > connected

        await _until(sent, within_s=30)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

    async def rotated() -> bool:  # X finishes the dead worker's request: the old token is spent, the new one lost
        return bool(_token_calls(sandbox)[-1]["status"] == 200)

    await _until(rotated)
    journaled = await _journal(api, integration_id)
    assert journaled.refresh_in_flight_at is not None
    assert journaled.refresh_in_flight_fingerprint is not None

    with _worker_process(api):
        async with asyncio.timeout(60):
            final: TokenRefreshState = await temporal_client.get_workflow_handle(
                f"token-refresh:{integration_id}", result_type=TokenRefreshState
            ).result()
    assert final.phase == "ended: unknown"
    assert len(_token_calls(sandbox)) == connected + 1  # the spent refresh token was never presented again
    assert (await _stored(api, integration_id)).refresh_needed is True
    assert tuple(await _journal(api, integration_id)) == (None, None)
    listed = (await api.http.get("/integrations/list", headers=h)).json()
    assert (listed[0]["refreshNeeded"], listed[0]["status"]) == (True, "refresh_needed")
    entries = (await api.http.get("/axon/audit-logs", headers=h)).json()["items"]
    marked = [e for e in entries if e["action"] == "integration.refresh_needed"]
    assert [e["details"]["reason"] for e in marked] == [UNKNOWN_OUTCOME]
    # X revoked nothing: the grant is intact (the access token stored before the crash still works), so the user
    # reconnects a channel whose grant we did not get killed.
    sealed = (await _stored(api, integration_id)).token
    token = api.container.cipher.decrypt_str(sealed, record=f"integrations/{integration_id}", field="token")
    profile = await platform_connectors(api.container.settings)[Platform.X].profile(access_token=token, proxy=None)
    assert profile.handle == "sandboxbrand"


async def test_a_refresh_that_never_left_leaves_no_journal_and_is_retried(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, pproxy_http: PproxyServer, refusing_port: int
) -> None:
    api = await api_factory(sandbox_port=sandbox.port)
    h = (await api.register())["headers"]
    async with _worker(api, temporal_client, api.container.settings.temporal_task_queue):
        integration_id = await _connect_x(api, h)
        await _link_through_proxy(api, h, integration_id, refusing_port, None)
        before = (await _stored(api, integration_id)).token
        connected = len(_token_calls(sandbox))
        await api.http.post(f"/integrations/{integration_id}/refresh", headers=h)
        handle = temporal_client.get_workflow_handle(f"token-refresh:{integration_id}")

        async def refused_twice() -> bool:
            pending = (await handle.describe()).raw_description.pending_activities
            return bool(pending) and pending[0].attempt >= 3

        await _until(refused_twice, within_s=30)

        async def settled() -> bool:  # each refused attempt clears its journal: the token never left
            return tuple(await _journal(api, integration_id)) == (None, None)

        await _until(settled)
        assert len(_token_calls(sandbox)) == connected
        # The proxy comes back: the next attempt presents the very same refresh token, and X rotates it.
        account = (await api.http.get("/axon/accounts", headers=h)).json()["items"][0]
        creds = {"username": pproxy_http.username, "password": pproxy_http.password}
        working = (await api.http.post("/axon/proxies", headers=h, json={
            "name": "back", "type": "residential", "protocol": "http", "host": "127.0.0.1", "port": pproxy_http.port,
            "credentials": creds})).json()  # fmt: skip
        moved = await api.http.patch(f"/axon/accounts/{account['id']}/proxy", json={"proxyId": working["id"]},
                                     headers=h)  # fmt: skip
        assert moved.status_code == 200

        async def refreshed() -> bool:
            return bool((await _stored(api, integration_id)).token != before)

        await _until(refreshed, within_s=60)
        assert [r["status"] for r in _token_calls(sandbox)[connected:]] == [200]
        assert (await _stored(api, integration_id)).refresh_needed is False
        assert tuple(await _journal(api, integration_id)) == (None, None)
        await handle.signal(TokenRefreshWorkflow.stop)


async def _journal_as_if_crashed(api: Api, integration_id: str) -> None:
    """What a worker killed mid-refresh leaves behind: the journal naming the refresh token it was presenting."""
    async with api.container.engine.begin() as conn:
        sealed = (
            await conn.execute(select(INTEGRATION.c.refresh_token).where(INTEGRATION.c.id == integration_id))
        ).scalar_one()
        token = api.container.cipher.decrypt_str(sealed, record=f"integrations/{integration_id}", field="refreshToken")
        await conn.execute(
            update(INTEGRATION)
            .where(INTEGRATION.c.id == integration_id)
            .values(refresh_in_flight_at=utcnow(), refresh_in_flight_fingerprint=refresh_fingerprint(token))
        )


async def test_a_journaled_refresh_is_retried_where_refresh_tokens_stay_valid(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api = await api_factory(sandbox_port=sandbox.port)
    h = (await api.register())["headers"]
    async with _worker(api, temporal_client, api.container.settings.temporal_task_queue):
        start = (await api.http.get("/integrations/social/linkedin", headers=h)).json()
        connected = await api.http.post("/integrations/social/linkedin/connect", json=browser_step(start["url"]),
                                        headers=h)  # fmt: skip
        assert connected.status_code == 200, connected.text
        integration_id = connected.json()["id"]
        before = (await _stored(api, integration_id)).token
        await _journal_as_if_crashed(api, integration_id)
        # LinkedIn answers a refresh with the same refresh token: presenting it again is safe, so it is retried.
        assert (await api.http.post(f"/integrations/{integration_id}/refresh", headers=h)).status_code == 202

        async def refreshed() -> bool:
            return bool((await _stored(api, integration_id)).token != before)

        await _until(refreshed)
        assert (await _stored(api, integration_id)).refresh_needed is False
        assert tuple(await _journal(api, integration_id)) == (None, None)
        await temporal_client.get_workflow_handle(f"token-refresh:{integration_id}").signal(TokenRefreshWorkflow.stop)

        # On X the same journal means the token may be spent: the channel is marked, and X never sees it again.
        x = await _connect_x(api, h)
        await _journal_as_if_crashed(api, x)
        calls = len(_token_calls(sandbox))
        await api.http.post(f"/integrations/{x}/refresh", headers=h)
        async with asyncio.timeout(30):
            final: TokenRefreshState = await temporal_client.get_workflow_handle(
                f"token-refresh:{x}", result_type=TokenRefreshState
            ).result()
        assert final.phase == "ended: unknown"
        assert len(_token_calls(sandbox)) == calls
        assert (await _stored(api, x)).refresh_needed is True
