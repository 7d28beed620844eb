"""AutoLinkWorkflow on a real Temporal dev server: connecting a channel links the matching Account and maps its
Soul, idempotently."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

from activities.autolink import AutoLinkActivities, AutoLinkResult
from domain.clock import SystemClock
from domain.identity.platforms import Platform
from tests.conftest import Api, ApiFactory
from tests.platforms.conftest import Sandbox, browser_step
from tests.platforms.conftest import sandbox as _sandbox_server
from workflows.autolink import AutoLinkWorkflow

sandbox_server = _sandbox_server
SANDBOX_HANDLE = "sandboxbrand"  # the sandbox's auto-approved test user on X


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


async def _connect(api: Api, h: dict[str, str], platform: Platform) -> dict[str, Any]:
    start = (await api.http.get(f"/integrations/social/{platform.value}", headers=h)).json()
    response = await api.http.post(f"/integrations/social/{platform.value}/connect", json=browser_step(start["url"]),
                                   headers=h)  # fmt: skip
    assert response.status_code == 200, response.text
    integration: dict[str, Any] = response.json()
    return integration


async def _result(client: Client, integration_id: str) -> AutoLinkResult:
    handle = client.get_workflow_handle(f"autolink:{integration_id}", result_type=AutoLinkResult)
    result: AutoLinkResult = await handle.result()
    return result


async def test_connecting_links_the_matching_account_and_maps_its_soul(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str
) -> None:
    api = await api_factory(sandbox_port=sandbox.port)
    h = (await api.register())["headers"]
    other = (await api.register())["headers"]
    soul = (await api.http.post("/axon/souls", json={"name": "Brand"}, headers=h)).json()
    body = {"soulId": soul["id"], "platform": "x", "handle": f"@{SANDBOX_HANDLE}"}
    account = (await api.http.post("/axon/accounts", headers=h, json=body)).json()
    their_soul = (await api.http.post("/axon/souls", json={"name": "Theirs"}, headers=other)).json()
    body = {"soulId": their_soul["id"], "platform": "x", "handle": SANDBOX_HANDLE}
    theirs = (await api.http.post("/axon/accounts", headers=other, json=body)).json()
    activities = AutoLinkActivities(api.container.documents, api.container.uow, SystemClock())
    async with Worker(
        temporal_client, task_queue=task_queue, workflows=[AutoLinkWorkflow], activities=[activities.link]
    ):
        integration = await _connect(api, h, Platform.X)
        result = await _result(temporal_client, integration["id"])
        assert (result.outcome, result.account_id, result.soul_id) == ("linked", account["id"], soul["id"])
        linked = (await api.http.get(f"/axon/accounts/{account['id']}", headers=h)).json()
        assert linked["integrationId"] == integration["id"]
        channels = (await api.http.get(f"/axon/matrix/souls/{soul['id']}/integrations", headers=h)).json()["channels"]
        assert [(c["integration"]["id"], c["mapping"]["accountId"], c["mapping"]["isPrimary"]) for c in channels] == [
            (integration["id"], account["id"], True)
        ]
        again = await _connect(api, h, Platform.X)  # reconnecting: same integration, nothing doubled
        assert again["id"] == integration["id"]
        assert (await _result(temporal_client, integration["id"])).outcome == "already_linked"
        channels = (await api.http.get(f"/axon/matrix/souls/{soul['id']}/integrations", headers=h)).json()["channels"]
        assert len(channels) == 1
        # Another organization's account with the same handle is never touched.
        assert (await api.http.get(f"/axon/accounts/{theirs['id']}", headers=other)).json()["integrationId"] is None

        unmatched = await _connect(api, h, Platform.LINKEDIN)
        assert (await _result(temporal_client, unmatched["id"])).outcome == "no_match"
        matrix = (await api.http.get("/axon/matrix", headers=h)).json()
        assert {i["id"] for i in matrix["integrations"]} == {integration["id"], unmatched["id"]}
        assert all(m["integrationId"] != unmatched["id"] for s in matrix["souls"] for m in s["mappings"])


async def test_connect_succeeds_even_when_temporal_is_down(api_factory: ApiFactory, sandbox: Sandbox) -> None:
    api = await api_factory(sandbox_port=sandbox.port, temporal_address="127.0.0.1:1")
    h = (await api.register())["headers"]
    integration = await _connect(api, h, Platform.X)
    assert integration["status"] == "connected"
