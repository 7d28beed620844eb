"""The Matrix across the two stores: mappings in SQL, souls and accounts in the document store (SQL or the Firestore
emulator). Links between accounts and channels stay 1:1 under concurrent requests, and removals on one side leave no
stale reference on the other. (Deleting a soul, a workflow, is covered on every store by test_lifecycle.py.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client
from temporalio.worker import Worker

from activities.autolink import AutoLinkActivities, AutoLinkResult
from adapters.sql.channels import MAPPING
from domain.channels.integrations import Integration
from domain.clock import SystemClock, utcnow
from domain.identity.platforms import Platform
from domain.services.identity.souls import mark_soul_deleting
from tests.conftest import Api, ApiFactory
from tests.platforms.conftest import Sandbox, browser_step
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.document_stores import api as _api
from tests.support.document_stores import document_settings as _document_settings
from workflows.autolink import AutoLinkWorkflow

api, document_settings, sandbox_server = _api, _document_settings, _sandbox_server
SANDBOX_HANDLE = "sandboxbrand"  # the sandbox's auto-approved test user on X


async def _org(api: Api) -> dict[str, str]:
    headers: dict[str, str] = (await api.register())["headers"]
    return headers


async def _org_id(api: Api, h: dict[str, str]) -> str:
    org: str = (await api.http.get("/auth/me", headers=h)).json()["organization"]["id"]
    return org


async def _integration(api: Api, h: dict[str, str], platform: Platform = Platform.X) -> str:
    now = utcnow()
    integration = Integration(
        id=str(uuid.uuid4()), organization_id=await _org_id(api, h), provider_identifier=platform,
        internal_id=uuid.uuid4().hex, name=f"{platform.value} channel", created_at=now, updated_at=now,
    )  # fmt: skip
    async with api.container.uow() as uow:
        await uow.integrations.add(integration)
        await uow.commit()
    return integration.id


async def _soul(api: Api, h: dict[str, str], name: str = "Brand") -> str:
    response = await api.http.post("/axon/souls", json={"name": name}, headers=h)
    assert response.status_code == 201, response.text
    soul_id: str = response.json()["id"]
    return soul_id


async def _account(api: Api, h: dict[str, str], soul: str, handle: str, platform: str = "x") -> str:
    body = {"soulId": soul, "platform": platform, "handle": handle}
    response = await api.http.post("/axon/accounts", json=body, headers=h)
    assert response.status_code == 201, response.text
    account_id: str = response.json()["id"]
    return account_id


async def _map(api: Api, h: dict[str, str], soul: str, integration: str) -> str:
    response = await api.http.post("/axon/matrix/mappings", json={"soulId": soul, "integrationId": integration},
                                   headers=h)  # fmt: skip
    assert response.status_code == 201, response.text
    mapping_id: str = response.json()["id"]
    return mapping_id


async def _link(api: Api, h: dict[str, str], account: str, integration: str | None) -> Any:
    return await api.http.patch(f"/axon/accounts/{account}/integration", json={"integrationId": integration},
                                headers=h)  # fmt: skip


async def _linked_to(api: Api, h: dict[str, str], integration: str) -> list[str]:
    """The accounts the document store holds as linked to the channel (the API's own filter)."""
    items = (await api.http.get("/axon/accounts", params={"limit": 100}, headers=h)).json()["items"]
    return [a["id"] for a in items if a["integrationId"] == integration]


async def _mapping_rows(api: Api, **where: str) -> list[dict[str, Any]]:
    async with api.container.engine.connect() as conn:
        stmt = select(MAPPING).where(*(MAPPING.c[k] == v for k, v in where.items())).order_by(MAPPING.c.created_at)
        return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def test_one_account_per_channel_under_concurrent_links(api: Api) -> None:
    h = await _org(api)
    x = await _integration(api, h)
    souls = [await _soul(api, h, f"Soul {i}") for i in range(5)]
    mapped = [await _map(api, h, s, x) for s in souls[:2]]
    accounts = [await _account(api, h, s, f"brand{i}") for i, s in enumerate(souls)]
    answers = await asyncio.gather(*(_link(api, h, a, x) for a in accounts))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409, 409], [r.text for r in answers]
    winner = next(a for a, r in zip(accounts, answers, strict=True) if r.status_code == 200)
    assert all(r.json()["code"] == "integration_already_linked" for r in answers if r.status_code == 409)
    assert await _linked_to(api, h, x) == [winner]
    assert [(m["id"], m["account_id"]) for m in await _mapping_rows(api, integration_id=x)] == [
        (mapped[0], winner),
        (mapped[1], winner),
    ]
    # Unlinking frees the channel for another account: no leftover claim on it in the document store.
    assert (await _link(api, h, winner, None)).status_code == 200
    loser = next(a for a in accounts if a != winner)
    assert (await _link(api, h, loser, x)).status_code == 200
    assert await _linked_to(api, h, x) == [loser]


async def test_one_channel_per_account_under_concurrent_links(api: Api) -> None:
    h = await _org(api)
    soul = await _soul(api, h)
    channels = [await _integration(api, h) for _ in range(3)]
    for channel in channels:
        await _map(api, h, soul, channel)
    account = await _account(api, h, soul, "brand")
    answers = await asyncio.gather(*(_link(api, h, account, c) for c in channels))
    # Requests that overlap: one wins, the others find the link changed. Requests that follow one another: each relinks.
    assert all(r.status_code == 200 or r.json()["code"] == "concurrent_change" for r in answers), [
        r.text for r in answers
    ]
    final = (await api.http.get(f"/axon/accounts/{account}", headers=h)).json()["integrationId"]
    assert final in channels
    # The mappings name the account on its channel only, and every other channel is free for another account.
    rows = await _mapping_rows(api, soul_id=soul)
    assert {m["integration_id"]: m["account_id"] for m in rows} == {
        c: account if c == final else None for c in channels
    }
    other_soul = await _soul(api, h, "Other")
    for i, channel in enumerate(c for c in channels if c != final):
        other = await _account(api, h, other_soul, f"other{i}")
        response = await _link(api, h, other, channel)
        assert response.status_code == 200, response.text


async def test_links_check_platform_organization_and_existing_links(api: Api) -> None:
    h, theirs = await _org(api), await _org(api)
    soul = await _soul(api, h)
    x, linkedin = await _integration(api, h), await _integration(api, h, Platform.LINKEDIN)
    their_x = await _integration(api, theirs)
    account, second = await _account(api, h, soul, "brand"), await _account(api, h, soul, "brand2")
    mismatch = await _link(api, h, account, linkedin)
    assert (mismatch.status_code, mismatch.json()["code"]) == (422, "platform_mismatch")
    assert (await _link(api, h, account, their_x)).status_code == 422  # another organization's channel: unknown
    assert (await _link(api, theirs, account, their_x)).status_code == 404  # another organization's account
    assert (await _link(api, h, account, x)).status_code == 200
    taken = await _link(api, h, second, x)
    assert (taken.status_code, taken.json()["blocking"]) == (409, {"accountIds": [account]})
    assert (await _link(api, h, account, x)).status_code == 200  # linking again is a no-op
    assert await _linked_to(api, h, x) == [account]


async def test_deleting_an_account_clears_it_from_the_mappings(api: Api) -> None:
    h = await _org(api)
    soul = await _soul(api, h)
    x = await _integration(api, h)
    mapping = await _map(api, h, soul, x)
    account = await _account(api, h, soul, "brand")
    assert (await _link(api, h, account, x)).status_code == 200
    assert (await api.http.delete(f"/axon/accounts/{account}", headers=h)).status_code == 204
    assert [(m["id"], m["account_id"]) for m in await _mapping_rows(api, integration_id=x)] == [(mapping, None)]
    assert (await _link(api, h, await _account(api, h, soul, "brand"), x)).status_code == 200


async def test_deleting_an_integration_unlinks_its_account_in_the_document_store(api: Api) -> None:
    h = await _org(api)
    soul = await _soul(api, h)
    x = await _integration(api, h)
    await _map(api, h, soul, x)
    account = await _account(api, h, soul, "brand")
    assert (await _link(api, h, account, x)).status_code == 200
    assert (await api.http.delete(f"/integrations/{x}", headers=h)).status_code == 204
    stored = await api.container.documents.accounts.get(await _org_id(api, h), account)
    assert stored is not None
    assert stored.integration_id is None
    assert await _mapping_rows(api, integration_id=x) == []
    assert (await api.http.get(f"/axon/matrix/souls/{soul}/integrations", headers=h)).json()["channels"] == []
    replacement = await _integration(api, h)
    assert (await _link(api, h, account, replacement)).status_code == 200
    assert (await api.http.delete(f"/integrations/{x}", headers=h)).status_code == 404


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


async def _connect_x(api: Api, h: dict[str, str]) -> str:
    start = (await api.http.get("/integrations/social/x", headers=h)).json()
    response = await api.http.post("/integrations/social/x/connect", json=browser_step(start["url"]), headers=h)
    assert response.status_code == 200, response.text
    integration_id: str = response.json()["id"]
    return integration_id


async def _autolinked(client: Client, integration_id: str) -> AutoLinkResult:
    handle = client.get_workflow_handle(f"autolink:{integration_id}", result_type=AutoLinkResult)
    async with asyncio.timeout(30):
        result: AutoLinkResult = await handle.result()
    return result


async def test_autolink_links_the_account_and_fills_the_mappings(
    api_factory: ApiFactory, document_settings: dict[str, Any], sandbox: Sandbox, temporal_client: Client,
    task_queue: str,
) -> None:  # fmt: skip
    api = await api_factory(sandbox_port=sandbox.port, **document_settings)
    h = await _org(api)
    activities = AutoLinkActivities(api.container.documents, api.container.uow, SystemClock())
    async with Worker(temporal_client, task_queue=task_queue, workflows=[AutoLinkWorkflow],
                      activities=[activities.link]):  # fmt: skip
        x = await _connect_x(api, h)
        assert (await _autolinked(temporal_client, x)).outcome == "no_match"
        brand, fan = await _soul(api, h, "Brand"), await _soul(api, h, "Fan")
        fan_mapping = await _map(api, h, fan, x)
        assert [m["account_id"] for m in await _mapping_rows(api, integration_id=x)] == [None]
        account = await _account(api, h, brand, f"@{SANDBOX_HANDLE}")
        assert await _connect_x(api, h) == x  # reconnecting runs the auto-link again
        result = await _autolinked(temporal_client, x)
        assert (result.outcome, result.account_id, result.soul_id) == ("linked", account, brand)
        assert await _linked_to(api, h, x) == [account]
        rows = {m["soul_id"]: m for m in await _mapping_rows(api, integration_id=x)}
        assert (rows[fan]["id"], rows[fan]["account_id"]) == (fan_mapping, account)
        assert (rows[brand]["id"], rows[brand]["account_id"], rows[brand]["is_primary"]) == (
            result.mapping_id, account, True,
        )  # fmt: skip
        assert await _connect_x(api, h) == x
        assert (await _autolinked(temporal_client, x)).outcome == "already_linked"
        assert len(await _mapping_rows(api, integration_id=x)) == 2


async def test_at_most_one_primary_per_soul_and_platform_under_concurrent_creates(api: Api) -> None:
    h = await _org(api)
    soul = await _soul(api, h)
    channels = [await _integration(api, h) for _ in range(4)]
    answers = await asyncio.gather(*(
        api.http.post("/axon/matrix/mappings", json={"soulId": soul, "integrationId": c}, headers=h) for c in channels
    ))  # fmt: skip
    # Each creates the soul's first X mapping, so each would be primary: the store keeps one, and a loser is told to
    # retry (never that the mapping exists: it does not).
    refused = [(c, r) for c, r in zip(channels, answers, strict=True) if r.status_code != 201]
    assert all((r.status_code, r.json()["code"]) == (409, "concurrent_change") for _, r in refused), [
        r.text for _, r in refused
    ]
    for channel, _ in refused:
        assert (await _map(api, h, soul, channel)) is not None
    rows = await _mapping_rows(api, soul_id=soul)
    assert sorted(m["integration_id"] for m in rows) == sorted(channels)
    assert sum(bool(m["is_primary"]) for m in rows) == 1


async def test_at_most_one_primary_per_soul_and_platform_under_concurrent_toggles(api: Api) -> None:
    h = await _org(api)
    soul = await _soul(api, h)
    channels = [await _integration(api, h) for _ in range(4)]
    answers = await asyncio.gather(*(
        api.http.post("/axon/matrix/mappings/toggle", json={"soulId": soul, "integrationId": c}, headers=h)
        for c in channels
    ))  # fmt: skip
    refused = [(c, r) for c, r in zip(channels, answers, strict=True) if r.status_code != 200]
    assert all((r.status_code, r.json()["code"]) == (409, "concurrent_change") for _, r in refused), [
        r.text for _, r in refused
    ]
    assert all(r.json()["mapped"] for r in answers if r.status_code == 200)
    rows = await _mapping_rows(api, soul_id=soul)
    assert sorted(m["integration_id"] for m in rows) == sorted(c for c in channels if c not in dict(refused))
    assert sum(bool(m["is_primary"]) for m in rows) == 1


async def test_linking_an_account_takes_it_off_the_mappings_of_other_channels(api: Api) -> None:
    h = await _org(api)
    soul = await _soul(api, h)
    x, other_x = await _integration(api, h), await _integration(api, h)
    on_x, on_other = await _map(api, h, soul, x), await _map(api, h, soul, other_x)
    account = await _account(api, h, soul, "brand")
    # Unlinked, the account may be named on any X mapping by hand.
    named = await api.http.patch(f"/axon/matrix/mappings/{on_x}", json={"accountId": account}, headers=h)
    assert (named.status_code, named.json()["accountId"]) == (200, account)
    assert (await _link(api, h, account, other_x)).status_code == 200
    rows = {m["id"]: m["account_id"] for m in await _mapping_rows(api, soul_id=soul)}
    assert rows == {on_x: None, on_other: account}


async def test_mapping_creates_and_toggles_check_the_soul_and_take_the_channels_account(api: Api) -> None:
    # With souls in SQL the insert itself checks the soul and finds the account; with Firestore the service reads
    # them first. Both answer alike.
    assert api.container.matrix._matrix.holds_souls is (api.container.settings.document_store == "sql")
    h, theirs = await _org(api), await _org(api)
    org = await _org_id(api, h)
    soul, x, free = await _soul(api, h), await _integration(api, h), await _integration(api, h)
    account = await _account(api, h, soul, "brand")
    assert (await _link(api, h, account, x)).status_code == 200

    async def create(soul_id: str, integration: str) -> Any:
        return await api.http.post("/axon/matrix/mappings", json={"soulId": soul_id, "integrationId": integration},
                                   headers=h)  # fmt: skip

    async def toggle(soul_id: str, integration: str) -> Any:
        body = {"soulId": soul_id, "integrationId": integration}
        return await api.http.post("/axon/matrix/mappings/toggle", json=body, headers=h)

    created = await create(soul, x)
    assert (created.status_code, created.json()["accountId"], created.json()["isPrimary"]) == (201, account, True)
    assert (await create(soul, x)).json()["code"] == "mapping_exists"
    assert (await toggle(soul, x)).json() == {"mapped": False, "mapping": None}
    again = (await toggle(soul, x)).json()
    assert (again["mapped"], again["mapping"]["accountId"]) == (True, account)
    unlinked = (await create(soul, free)).json()
    assert (unlinked["accountId"], unlinked["isPrimary"]) == (None, False)

    their_soul = await _soul(api, theirs)
    for soul_id in ("no-such-soul", their_soul):
        for attempt in (create, toggle):
            refused = await attempt(soul_id, free)
            assert (refused.status_code, refused.json()["code"]) == (422, "soul_not_found"), refused.text
    for attempt in (create, toggle):
        refused = await attempt(soul, "no-such-integration")
        assert (refused.status_code, refused.json()["code"]) == (422, "integration_not_found"), refused.text

    other = await _soul(api, h, "Leaving")
    assert await mark_soul_deleting(api.container.documents, SystemClock(), org, other) is not None
    for attempt in (create, toggle):
        refused = await attempt(other, free)
        assert (refused.status_code, refused.json()["code"]) == (409, "soul_deleting"), refused.text
    assert await _mapping_rows(api, soul_id=other) == []
    assert [r["integration_id"] for r in await _mapping_rows(api, soul_id=soul)] == [x, free]
