"""Connecting the channels that are not a plain OAuth round trip (Bluesky's app password, Mastodon's app registered per
instance), and connecting any channel through an Account's or a Soul's proxy, against the sandbox served for real."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client, WorkflowExecutionStatus

from adapters.crypto.fields import FieldCipher, Keyring, generate_key_spec
from adapters.platforms.bluesky import BlueskyConnector
from adapters.platforms.mastodon import MastodonConnector
from adapters.platforms.registry import platform_connectors
from adapters.sql.channels import INTEGRATION, OAUTH_STATE, PLATFORM_APP
from adapters.sql.encrypted_columns import REGISTRY, EncryptedColumn, rotate
from adapters.sql.engine import session_factory
from adapters.sql.schema import metadata
from domain.channels.apps import connector_for
from domain.channels.integrations import Integration
from domain.identity.platforms import Platform
from tests.conftest import Api, ApiFactory
from tests.integration.peer_watch import watching
from tests.integration.publishing_desk import running_workers
from tests.platforms.conftest import BLUESKY_APP_PASSWORD, BLUESKY_HANDLE, Sandbox, browser_step
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer

sandbox_server = _sandbox_server
BLUESKY_DID = "did:plc:sandboxbrand0000000000"
PROBLEM = "application/problem+json"


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


async def _api(api_factory: ApiFactory, sandbox: Sandbox) -> tuple[Api, dict[str, str]]:
    api = await api_factory(sandbox_port=sandbox.port, frontend_url="http://localhost:3000")
    return api, (await api.register())["headers"]


async def _bluesky(api: Api, h: dict[str, str], **body: Any) -> Any:
    payload = {"identifier": BLUESKY_HANDLE, "appPassword": api.secret(BLUESKY_APP_PASSWORD), **body}
    return await api.http.post("/integrations/social/bluesky/connect", json=payload, headers=h)


async def _row(api: Api, integration_id: str) -> Any:
    async with api.container.engine.connect() as conn:
        return (await conn.execute(select(INTEGRATION).where(INTEGRATION.c.id == integration_id))).one()


async def _workflow_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    return (await client.get_workflow_handle(workflow_id).describe()).status


async def _stop(client: Client, *workflow_ids: str) -> None:
    for workflow_id in workflow_ids:
        handle = client.get_workflow_handle(workflow_id)
        if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test over")


def _count(sandbox: Sandbox, platform: Platform, endpoint: str) -> int:
    return len([r for r in sandbox.requests(platform) if r["endpoint"] == endpoint])


# --- Bluesky -----------------------------------------------------------------------------------------------------


async def test_bluesky_connects_with_an_app_password_and_keeps_only_the_session(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api, h = await _api(api_factory, sandbox)
    connected = await _bluesky(api, h)
    assert connected.status_code == 200, connected.text
    body = connected.json()
    assert (body["providerIdentifier"], body["internalId"]) == ("bluesky", BLUESKY_DID)
    assert (body["handle"], body["name"], body["status"]) == (BLUESKY_HANDLE, "Sandbox Brand", "connected")
    assert body["tokenExpiration"] is not None  # the access JWT's exp: the refresh loop is scheduled from it
    assert BLUESKY_APP_PASSWORD not in connected.text

    row = await _row(api, body["id"])
    assert row.api_base is None  # the default PDS
    assert set(row.token) == set(row.refresh_token) == {"alg", "kid", "iv", "data", "tag"}
    record = f"integrations/{body['id']}"
    refresh_jwt = api.container.cipher.decrypt_str(row.refresh_token, record=record, field="refreshToken")
    assert refresh_jwt.count(".") == 2  # the session's refresh JWT, not the password
    async with api.container.engine.connect() as conn:
        tables = (INTEGRATION, OAUTH_STATE, PLATFORM_APP, metadata.tables["audit_log"])
        stored = [str(tuple(r)) for t in tables for r in await conn.execute(select(t))]
    assert len(stored) >= 2  # the integration and its audit entry, at least
    assert not [r for r in stored if BLUESKY_APP_PASSWORD in r]
    audit_log = (await api.http.get("/axon/audit-logs", headers=h)).json()["items"]
    assert any(e["action"] == "integration.connect" for e in audit_log)
    assert BLUESKY_APP_PASSWORD not in str(audit_log)

    # The same workflows as an OAuth connect: auto-link, and the refresh loop of an expiring session.
    assert await _workflow_status(temporal_client, f"autolink:{body['id']}") is not None
    assert await _workflow_status(temporal_client, f"token-refresh:{body['id']}") == WorkflowExecutionStatus.RUNNING
    await _stop(temporal_client, f"autolink:{body['id']}", f"token-refresh:{body['id']}")

    again = await _bluesky(api, h)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"]
    assert [i["id"] for i in (await api.http.get("/integrations/list", headers=h)).json()] == [body["id"]]
    await _stop(temporal_client, f"autolink:{body['id']}", f"token-refresh:{body['id']}")


async def test_a_wrong_app_password_is_a_clear_422_that_never_echoes_it(
    api_factory: ApiFactory, sandbox: Sandbox
) -> None:
    api, h = await _api(api_factory, sandbox)
    wrong = api.secret("wrong-pass-word-1234")
    response = await api.http.post(
        "/integrations/social/bluesky/connect", json={"identifier": BLUESKY_HANDLE, "appPassword": wrong}, headers=h
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "bluesky_login_failed"
    assert wrong not in response.text
    assert _count(sandbox, Platform.BLUESKY, "create_session") == 1  # it really asked the PDS
    assert (await api.http.get("/integrations/list", headers=h)).json() == []

    missing = await api.http.post("/integrations/social/bluesky/connect", json={"identifier": "x"}, headers=h)
    assert missing.status_code == 422
    oauth_shape = await api.http.post("/integrations/social/bluesky/connect", json={"code": "c", "state": "s"},
                                      headers=h)  # fmt: skip
    assert oauth_shape.status_code == 422
    not_bluesky = await api.http.get("/integrations/social/bluesky", headers=h)
    assert not_bluesky.json()["code"] == "app_password_required"


async def test_bluesky_on_another_pds_stores_it_and_refuses_unsafe_service_urls(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api, h = await _api(api_factory, sandbox)
    for bad in ("http://pds.example.com", "https://pds.example.com/xrpc", "https://pds.example.com?a=1",
                "https://127.0.0.1", "https://10.1.2.3", "https://user:pw@pds.example.com", "ftp://pds.example.com",
                "not a url"):  # fmt: skip
        refused = await _bluesky(api, h, service=bad)
        assert refused.status_code == 422, bad
        assert refused.json()["code"] == "invalid_instance_url", bad
    assert _count(sandbox, Platform.BLUESKY, "create_session") == 0  # refused before any call

    default = await _bluesky(api, h, service=f"{sandbox.url}/bluesky/")
    assert (await _row(api, default.json()["id"])).api_base is None  # the configured one, however written
    # The sandbox written as localhost: another service as far as the channel knows, so it is kept.
    own = f"http://localhost:{sandbox.port}/bluesky"
    moved = await _bluesky(api, h, service=own)
    assert moved.status_code == 200, moved.text
    assert moved.json()["id"] == default.json()["id"]  # the same DID: the same channel, now on its own PDS
    assert (await _row(api, moved.json()["id"])).api_base == own
    await _stop(temporal_client, f"autolink:{moved.json()['id']}", f"token-refresh:{moved.json()['id']}")


async def test_the_session_is_refreshed_on_its_own_pds_with_nothing_but_the_stored_tokens(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str
) -> None:
    api = await api_factory(sandbox_port=sandbox.port, platform_queue_prefix=f"{task_queue}-")
    h = (await api.register())["headers"]
    own = f"http://localhost:{sandbox.port}/bluesky"
    async with running_workers(api, temporal_client):
        integration = (await _bluesky(api, h, service=own)).json()
        before = await _row(api, integration["id"])
        assert (await api.http.post(f"/integrations/{integration['id']}/refresh", headers=h)).status_code == 202
        for _ in range(100):
            after = await _row(api, integration["id"])
            if after.updated_at > before.updated_at:
                break
            await asyncio.sleep(0.2)
        await _stop(temporal_client, f"autolink:{integration['id']}", f"token-refresh:{integration['id']}")
    assert after.updated_at > before.updated_at, "the refresh workflow never stored a new session"
    assert after.refresh_token != before.refresh_token  # refreshSession rotated the refresh JWT
    assert [r["status"] for r in sandbox.requests(Platform.BLUESKY) if r["endpoint"] == "refresh"] == [200]
    stored = Integration.model_validate(dict(after._mapping))
    connector = await connector_for(stored, platform_connectors(api.container.settings), api.container.uow,
                                    api.container.cipher)  # fmt: skip
    assert isinstance(connector, BlueskyConnector)
    assert connector.service == own  # the refresh went to the account's PDS, not the default one


async def test_disconnecting_bluesky_ends_the_session_at_the_pds(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api, h = await _api(api_factory, sandbox)
    integration = (await _bluesky(api, h)).json()
    await _stop(temporal_client, f"autolink:{integration['id']}")
    assert (await api.http.delete(f"/integrations/{integration['id']}", headers=h)).status_code == 204
    ended = [r for r in sandbox.requests(Platform.BLUESKY) if r["endpoint"] == "revoke"]
    assert [r["status"] for r in ended] == [200]  # deleteSession accepted the refresh JWT


# --- Mastodon ------------------------------------------------------------------------------------------------------


async def _mastodon_start(api: Api, h: dict[str, str], instance: str | None, **params: str) -> Any:
    query = {**({"instance": instance} if instance else {}), **params}
    return await api.http.get("/integrations/social/mastodon", params=query, headers=h)


async def _apps(api: Api) -> list[Any]:
    async with api.container.engine.connect() as conn:
        return list((await conn.execute(select(PLATFORM_APP).order_by(PLATFORM_APP.c.created_at))).all())


async def test_mastodon_registers_one_app_per_instance_and_connects_with_it(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client
) -> None:
    api, h = await _api(api_factory, sandbox)
    instance = f"{sandbox.url}/mastodon"
    first = await _mastodon_start(api, h, instance + "/")
    assert first.status_code == 200, first.text
    assert first.json()["url"].startswith(f"{instance}/oauth/authorize?")
    second = await _mastodon_start(api, h, instance)
    assert _count(sandbox, Platform.MASTODON, "register_app") == 1  # once per instance and redirect URI
    [app] = await _apps(api)
    assert (app.platform, app.api_base) == ("mastodon", instance)
    assert app.redirect_uri == "http://localhost:3000/integrations/social/mastodon"
    assert app.scopes == "profile write:statuses write:media"
    assert set(app.client_secret) == {"alg", "kid", "iv", "data", "tag"}  # sealed
    assert f"client_id={app.client_id}" in first.json()["url"]

    connected = await api.http.post("/integrations/social/mastodon/connect", json=browser_step(second.json()["url"]),
                                    headers=h)  # fmt: skip
    assert connected.status_code == 200, connected.text
    body = connected.json()
    assert (body["providerIdentifier"], body["status"], body["tokenExpiration"]) == ("mastodon", "connected", None)
    assert body["handle"] == "sandboxbrand@127.0.0.1:" + str(sandbox.port)
    assert (await _row(api, body["id"])).api_base == instance
    await _stop(temporal_client, f"autolink:{body['id']}")

    # Another instance gets its own app; a code from one instance is worthless with the other's state.
    other = f"http://localhost:{sandbox.port}/mastodon"
    elsewhere = await _mastodon_start(api, h, other)
    assert elsewhere.status_code == 200
    assert elsewhere.json()["url"].startswith(f"{other}/oauth/authorize?")
    assert [a.api_base for a in await _apps(api)] == [instance, other]
    code_from_first = browser_step((await _mastodon_start(api, h, instance)).json()["url"])["code"]
    swapped = await api.http.post("/integrations/social/mastodon/connect", headers=h,
                                  json={"code": code_from_first, "state": elsewhere.json()["state"]})  # fmt: skip
    assert swapped.status_code == 422
    assert swapped.json()["code"] == "oauth_exchange_failed"

    stored = Integration.model_validate(dict((await _row(api, body["id"]))._mapping))
    connector = await connector_for(stored, platform_connectors(api.container.settings), api.container.uow,
                                    api.container.cipher, redirect_uri=app.redirect_uri)  # fmt: skip
    assert isinstance(connector, MastodonConnector)
    assert (connector.instance, connector.e.client_id) == (instance, app.client_id)

    # Disconnecting revokes with the instance's own app (the sandbox answers 401 to any other client).
    assert (await api.http.delete(f"/integrations/{body['id']}", headers=h)).status_code == 204
    revokes = [r for r in sandbox.requests(Platform.MASTODON) if r["endpoint"] == "revoke"]
    assert [r["status"] for r in revokes] == [200]


async def test_mastodon_instance_urls_are_validated_before_any_call(api_factory: ApiFactory, sandbox: Sandbox) -> None:
    api, h = await _api(api_factory, sandbox)
    for bad in ("http://mastodon.example", "https://mastodon.example/@alice", "https://mastodon.example/?x=1",
                "https://mastodon.example#top", "https://localhost", "https://192.168.1.2", "javascript:alert(1)",
                "mastodon.example"):  # fmt: skip
        response = await _mastodon_start(api, h, bad)
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["code"] == "invalid_instance_url", bad
    assert _count(sandbox, Platform.MASTODON, "register_app") == 0
    assert await _apps(api) == []
    x = await api.http.get("/integrations/social/x", params={"instance": "https://mastodon.example"}, headers=h)
    assert (x.status_code, x.json()["code"]) == (422, "instance_not_supported")


async def test_an_instance_that_refuses_or_fails_the_registration_is_a_clear_4xx_or_503(
    api_factory: ApiFactory, sandbox: Sandbox
) -> None:
    api, h = await _api(api_factory, sandbox)
    # Below the sandbox's origin is accepted over http; nothing there is a Mastodon, so registering is refused.
    missing = await _mastodon_start(api, h, f"{sandbox.url}/nowhere")
    assert (missing.status_code, missing.json()["code"]) == (422, "instance_refused")
    sandbox.fault(Platform.MASTODON, "server_error", endpoint="register_app", status=503)
    down = await _mastodon_start(api, h, None)
    assert (down.status_code, down.json()["code"]) == (503, "instance_unavailable")
    assert down.headers["content-type"].startswith(PROBLEM)
    assert await _apps(api) == []
    assert (await _mastodon_start(api, h, None)).status_code == 200  # a later try registers it
    assert len(await _apps(api)) == 1


async def test_platform_app_secrets_are_rotated_with_the_other_sealed_fields(
    api_factory: ApiFactory, sandbox: Sandbox
) -> None:
    api, h = await _api(api_factory, sandbox)
    assert (await _mastodon_start(api, h, None)).status_code == 200  # the configured default instance
    column = next(c for c in REGISTRY if c.table is PLATFORM_APP)
    assert column == EncryptedColumn(PLATFORM_APP, "client_secret", "platform_apps", field="clientSecret")
    [before] = await _apps(api)
    old_spec = api.container.settings.encryption_keys
    rotated = FieldCipher(Keyring.parse(f"{generate_key_spec('next')},{old_spec}"))
    report = await rotate(session_factory(api.container.engine), rotated, columns=[column])
    assert report.rotated == 1
    [after] = await _apps(api)
    assert after.client_secret["kid"] == "next" != before.client_secret["kid"]
    record = f"platform_apps/{after.id}"
    assert rotated.decrypt_str(after.client_secret, record=record, field="clientSecret") == (
        api.container.cipher.decrypt_str(before.client_secret, record=record, field="clientSecret")
    )


# --- connecting through a proxy ------------------------------------------------------------------------------------


async def _proxy(api: Api, h: dict[str, str], server: PproxyServer | None, *, port: int | None = None) -> str:
    body = {"name": "p", "type": "residential", "protocol": server.protocol if server else "http",
            "host": "127.0.0.1", "port": server.port if server else port,
            "credentials": {"username": server.username if server else "nobody",
                            "password": api.secret(server.password if server else "no-password-here")}}  # fmt: skip
    response = await api.http.post("/axon/proxies", json=body, headers=h)
    assert response.status_code == 201, response.text
    proxy_id: str = response.json()["id"]
    return proxy_id


async def _account(api: Api, h: dict[str, str], platform: Platform, handle: str, *, proxy_id: str | None = None,
                   soul_proxy_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    soul = await api.http.post("/axon/souls", json={"name": "Brand", "proxyId": soul_proxy_id}, headers=h)
    assert soul.status_code == 201, soul.text
    body = {"soulId": soul.json()["id"], "platform": platform.value, "handle": handle, "proxyId": proxy_id}
    account = await api.http.post("/axon/accounts", json=body, headers=h)
    assert account.status_code == 201, account.text
    found: dict[str, Any] = account.json()
    return found


async def test_oauth_connect_goes_through_the_accounts_proxy(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, pproxy_http: PproxyServer
) -> None:
    api, h = await _api(api_factory, sandbox)
    account = await _account(api, h, Platform.X, "brandx", proxy_id=await _proxy(api, h, pproxy_http))
    start = await api.http.get("/integrations/social/x", params={"accountId": account["id"]}, headers=h)
    assert start.status_code == 200, start.text
    async with watching(sandbox, Platform.X, pproxy_http.pid) as watch:
        redirect = browser_step(start.json()["url"])
        connected = await api.http.post("/integrations/social/x/connect", json=redirect, headers=h)
    assert connected.status_code == 200, connected.text
    served = {r["endpoint"] for r in watch.served()}
    assert {"authorize", "token", "profile"} <= served
    # Everything but the user's own browser came from the proxy process.
    assert watch.unproven(pproxy_http.pid, skip_endpoints=frozenset({"authorize"})) == []
    # ...which the watch tells apart: the browser's request came from this process.
    assert [watch.owner(r) for r in watch.served() if r["endpoint"] == "authorize"] == [os.getpid()]
    await _stop(temporal_client, f"autolink:{connected.json()['id']}", f"token-refresh:{connected.json()['id']}")


async def test_bluesky_and_mastodon_connect_through_the_souls_default_proxy(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, pproxy_socks5: PproxyServer
) -> None:
    api, h = await _api(api_factory, sandbox)
    proxy_id = await _proxy(api, h, pproxy_socks5)
    # The account has no proxy of its own: its soul's default one is used.
    bsky = await _account(api, h, Platform.BLUESKY, "brand.bsky.social", soul_proxy_id=proxy_id)
    async with watching(sandbox, Platform.BLUESKY, pproxy_socks5.pid) as watch:
        connected = await _bluesky(api, h, accountId=bsky["id"])
    assert connected.status_code == 200, connected.text
    assert {"create_session", "get_session", "profile"} <= {r["endpoint"] for r in watch.served()}
    assert watch.unproven(pproxy_socks5.pid) == []
    await _stop(temporal_client, f"autolink:{connected.json()['id']}", f"token-refresh:{connected.json()['id']}")

    soul_id = bsky["soulId"]
    async with watching(sandbox, Platform.MASTODON, pproxy_socks5.pid) as watch:
        start = await _mastodon_start(api, h, None, soulId=soul_id)
        assert start.status_code == 200, start.text
        redirect = browser_step(start.json()["url"])
        connected = await api.http.post("/integrations/social/mastodon/connect", json=redirect, headers=h)
    assert connected.status_code == 200, connected.text
    assert {"register_app", "authorize", "token", "profile"} <= {r["endpoint"] for r in watch.served()}
    assert watch.unproven(pproxy_socks5.pid, skip_endpoints=frozenset({"authorize"})) == []
    await _stop(temporal_client, f"autolink:{connected.json()['id']}")


async def test_a_connect_through_a_dead_proxy_fails_without_a_direct_request(
    api_factory: ApiFactory, sandbox: Sandbox, refusing_port: int
) -> None:
    api, h = await _api(api_factory, sandbox)
    dead = await _proxy(api, h, None, port=refusing_port)
    account = await _account(api, h, Platform.LINKEDIN, "brand-li", proxy_id=dead)
    start = await api.http.get("/integrations/social/linkedin", params={"accountId": account["id"]}, headers=h)
    redirect = browser_step(start.json()["url"])
    failed = await api.http.post("/integrations/social/linkedin/connect", json=redirect, headers=h)
    assert failed.status_code == 503
    assert failed.json()["code"] == "platform_unavailable"
    assert _count(sandbox, Platform.LINKEDIN, "token") == 0  # never around the proxy
    dead_bluesky = await _account(api, h, Platform.BLUESKY, "dead.bsky.social", proxy_id=account["proxyId"])
    refused = await _bluesky(api, h, accountId=dead_bluesky["id"])
    assert (refused.status_code, refused.json()["code"]) == (503, "platform_unavailable")
    assert _count(sandbox, Platform.BLUESKY, "create_session") == 0


async def test_the_proxy_source_is_checked(api_factory: ApiFactory, sandbox: Sandbox) -> None:
    api, h = await _api(api_factory, sandbox)
    bare = await _account(api, h, Platform.X, "bare")
    no_proxy = await api.http.get("/integrations/social/x", params={"accountId": bare["id"]}, headers=h)
    assert (no_proxy.status_code, no_proxy.json()["code"]) == (422, "no_proxy")
    no_default = await api.http.get("/integrations/social/x", params={"soulId": bare["soulId"]}, headers=h)
    assert (no_default.status_code, no_default.json()["code"]) == (422, "no_proxy")
    mismatch = await api.http.get("/integrations/social/linkedin", params={"accountId": bare["id"]}, headers=h)
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "platform_mismatch")
    both = await api.http.get("/integrations/social/x", params={"accountId": bare["id"], "soulId": bare["soulId"]},
                              headers=h)  # fmt: skip
    assert both.status_code == 422
    other = (await api.register())["headers"]
    assert (await api.http.get("/integrations/social/x", params={"accountId": bare["id"]},
                               headers=other)).status_code == 404  # fmt: skip
    assert (await api.http.get("/integrations/social/x", params={"soulId": bare["soulId"]},
                               headers=other)).status_code == 404  # fmt: skip
    foreign = await api.http.post("/integrations/social/bluesky/connect", headers=other, json={
        "identifier": BLUESKY_HANDLE, "appPassword": BLUESKY_APP_PASSWORD, "accountId": bare["id"]})  # fmt: skip
    assert foreign.status_code == 404
    assert _count(sandbox, Platform.BLUESKY, "create_session") == 0


async def test_the_account_bound_in_the_state_is_used_at_connect(
    api_factory: ApiFactory, sandbox: Sandbox, pproxy_http: PproxyServer, refusing_port: int
) -> None:
    """The proxy is looked up again at connect: an account whose proxy died in between is never bypassed."""
    api, h = await _api(api_factory, sandbox)
    account = await _account(api, h, Platform.X, "brandx", proxy_id=await _proxy(api, h, pproxy_http))
    start = await api.http.get("/integrations/social/x", params={"accountId": account["id"]}, headers=h)
    dead = await _proxy(api, h, None, port=refusing_port)
    moved = await api.http.patch(f"/axon/accounts/{account['id']}/proxy", json={"proxyId": dead}, headers=h)
    assert moved.status_code == 200, moved.text
    failed = await api.http.post("/integrations/social/x/connect", json=browser_step(start.json()["url"]), headers=h)
    assert failed.status_code == 503
    assert _count(sandbox, Platform.X, "token") == 0
