"""Connecting channels through the API, against the platform sandbox served for real (`python -m sandbox`)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from adapters.sql.channels import INTEGRATION
from domain.identity.platforms import Platform
from tests.conftest import Api, ApiFactory
from tests.platforms.conftest import Sandbox, browser_step
from tests.platforms.conftest import sandbox as _sandbox_server

# Bluesky (app passwords) and Mastodon (per-instance apps): tests/integration/test_connect_bluesky_mastodon.py.
OAUTH_PLATFORMS = [Platform.X, Platform.LINKEDIN, Platform.FACEBOOK, Platform.INSTAGRAM, Platform.THREADS,
                   Platform.TIKTOK]  # fmt: skip

sandbox_server = _sandbox_server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


async def _api(api_factory: ApiFactory, sandbox: Sandbox) -> tuple[Api, dict[str, str]]:
    api = await api_factory(sandbox_port=sandbox.port, frontend_url="http://localhost:3000")
    return api, (await api.register())["headers"]


async def _connect(api: Api, h: dict[str, str], platform: Platform) -> Any:
    start = await api.http.get(f"/integrations/social/{platform.value}", headers=h)
    assert start.status_code == 200, start.text
    redirect = browser_step(start.json()["url"])
    assert redirect["state"] == start.json()["state"]
    return await api.http.post(f"/integrations/social/{platform.value}/connect", headers=h,
                               json={"code": redirect["code"], "state": redirect["state"]})  # fmt: skip


@pytest.mark.parametrize("platform", OAUTH_PLATFORMS, ids=lambda p: p.value)
async def test_oauth_round_trip_creates_the_integration(
    platform: Platform, api_factory: ApiFactory, sandbox: Sandbox
) -> None:
    api, h = await _api(api_factory, sandbox)
    connected = await _connect(api, h, platform)
    assert connected.status_code == 200, connected.text
    body = connected.json()
    assert body["providerIdentifier"] == platform.value
    assert body["internalId"]
    assert body["name"]
    assert (body["disabled"], body["refreshNeeded"], body["status"]) == (False, False, "connected")
    assert "token" not in body
    assert "refreshToken" not in body
    listed = (await api.http.get("/integrations/list", headers=h)).json()
    assert [i["id"] for i in listed] == [body["id"]]
    async with api.container.engine.connect() as conn:
        stored = (await conn.execute(select(INTEGRATION.c.token).where(INTEGRATION.c.id == body["id"]))).scalar_one()
    assert set(stored) == {"alg", "kid", "iv", "data", "tag"}  # sealed at rest
    token = api.secret(api.container.cipher.decrypt_str(stored, record=f"integrations/{body['id']}", field="token"))
    assert token not in connected.text
    assert token not in str(listed)


async def test_bluesky_has_no_authorize_url_and_points_to_the_app_password_sign_in(
    api_factory: ApiFactory, sandbox: Sandbox
) -> None:
    api, h = await _api(api_factory, sandbox)
    response = await api.http.get("/integrations/social/bluesky", headers=h)
    assert response.status_code == 422
    assert response.json()["code"] == "app_password_required"
    assert "appPassword" in response.json()["detail"]


async def test_reconnecting_updates_the_same_integration(api_factory: ApiFactory, sandbox: Sandbox) -> None:
    api, h = await _api(api_factory, sandbox)
    first = (await _connect(api, h, Platform.LINKEDIN)).json()
    second = (await _connect(api, h, Platform.LINKEDIN)).json()
    assert second["id"] == first["id"]
    assert len((await api.http.get("/integrations/list", headers=h)).json()) == 1


async def test_state_is_single_use_bound_and_checked(api_factory: ApiFactory, sandbox: Sandbox) -> None:
    api, h = await _api(api_factory, sandbox)
    start = (await api.http.get("/integrations/social/x", headers=h)).json()
    redirect = browser_step(start["url"])
    bogus = await api.http.post("/integrations/social/x/connect", json={"code": redirect["code"], "state": "nope"},
                                headers=h)  # fmt: skip
    assert bogus.status_code == 422
    assert bogus.json()["code"] == "oauth_state_invalid"
    wrong_provider = await api.http.post("/integrations/social/linkedin/connect", json=redirect, headers=h)
    assert wrong_provider.status_code == 422  # and the state is spent now
    reused = await api.http.post("/integrations/social/x/connect", json=redirect, headers=h)
    assert reused.status_code == 422
    other_org = (await api.register())["headers"]
    start = (await api.http.get("/integrations/social/x", headers=h)).json()
    stolen = await api.http.post("/integrations/social/x/connect", json=browser_step(start["url"]), headers=other_org)
    assert stolen.status_code == 422
    assert (await api.http.get("/integrations/list", headers=h)).json() == []


async def test_expired_state_is_refused(api_factory: ApiFactory, sandbox: Sandbox) -> None:
    api, h = await _api(api_factory, sandbox)
    start = (await api.http.get("/integrations/social/x", headers=h)).json()
    async with api.container.engine.begin() as conn:
        from adapters.sql.channels import OAUTH_STATE
        from domain.clock import utcnow

        await conn.execute(OAUTH_STATE.update().values(expires_at=utcnow()))
    expired = await api.http.post("/integrations/social/x/connect", json=browser_step(start["url"]), headers=h)
    assert expired.status_code == 422
    assert expired.json()["code"] == "oauth_state_expired"


async def test_a_wrong_pkce_verifier_is_a_clear_4xx(api_factory: ApiFactory, sandbox: Sandbox) -> None:
    api, h = await _api(api_factory, sandbox)
    start = (await api.http.get("/integrations/social/x", headers=h)).json()
    redirect = browser_step(start["url"])
    async with api.container.engine.begin() as conn:
        from adapters.sql.channels import OAUTH_STATE

        sealed = (await conn.execute(select(OAUTH_STATE.c.state_digest, OAUTH_STATE.c.code_verifier))).one()
        replacement = api.container.cipher.encrypt("x" * 64, record=f"oauth_states/{sealed[0]}", field="codeVerifier")
        await conn.execute(OAUTH_STATE.update().values(code_verifier=replacement))
    response = await api.http.post("/integrations/social/x/connect", json=redirect, headers=h)
    assert response.status_code == 422
    assert response.json()["code"] == "oauth_exchange_failed"


async def test_unknown_provider_is_404_and_disconnect_unlinks_and_removes(
    api_factory: ApiFactory, sandbox: Sandbox
) -> None:
    api, h = await _api(api_factory, sandbox)
    assert (await api.http.get("/integrations/social/myspace", headers=h)).status_code == 404
    integration = (await _connect(api, h, Platform.X)).json()
    soul = (await api.http.post("/axon/souls", json={"name": "S"}, headers=h)).json()
    account = (await api.http.post("/axon/accounts", json={"soulId": soul["id"], "platform": "x", "handle": "brand"},
                                   headers=h)).json()  # fmt: skip
    await api.http.patch(f"/axon/accounts/{account['id']}/integration", json={"integrationId": integration["id"]},
                         headers=h)  # fmt: skip
    await api.http.post("/axon/matrix/mappings", json={"soulId": soul["id"], "integrationId": integration["id"]},
                        headers=h)  # fmt: skip
    other_org = (await api.register())["headers"]
    assert (await api.http.delete(f"/integrations/{integration['id']}", headers=other_org)).status_code == 404
    assert (await api.http.delete(f"/integrations/{integration['id']}", headers=h)).status_code == 204
    assert (await api.http.get(f"/axon/accounts/{account['id']}", headers=h)).json()["integrationId"] is None
    assert (await api.http.get(f"/axon/matrix/souls/{soul['id']}/integrations", headers=h)).json()["channels"] == []
    revokes = [r for r in sandbox.requests(Platform.X) if r["path"].endswith("/oauth2/revoke")]
    assert len(revokes) == 1
