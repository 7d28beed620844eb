"""Deleting a soul and an organization, and exporting an organization, end to end: the API, the real workers on a real
Temporal dev server, the platform sandbox, and each document store (SQLite, PostgreSQL, the Firestore emulator).

"Nothing orphaned" is checked in the stores themselves, not only through the API: no row left in any table, no
document left in Firestore, no warming schedule, no waiting post workflow."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleSpec,
    ScheduleState,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from activities.lifecycle import AccountRef, SoulRef
from adapters.firestore.store import FirestoreDocumentStore
from adapters.sql.schema import metadata
from domain.channels.integrations import integration_record
from domain.identity.platforms import Platform
from domain.lifecycle import organization_deletion_id, soul_deletion_id, warming_schedule_id
from domain.publishing.posts import DeliveryState
from tests.conftest import Api, ApiFactory
from tests.integration.publishing_desk import Channel, Desk, desk_settings, running_workers
from tests.platforms.conftest import Sandbox
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer
from worker import lifecycle_activities
from workflows.lifecycle import OrganizationDeletionWorkflow, SoulDeletionInput, SoulDeletionWorkflow
from workflows.post import PostWorkflow

sandbox_server = _sandbox_server

# Every document collection under `orgs/{organizationId}` in Firestore.
FIRESTORE_KINDS = ("souls", "personas", "accounts", "proxies", "accountHandles", "integrationLinks")


@pytest.fixture(scope="session", params=["sqlite", "postgres", "firestore"])
def database_url(request: pytest.FixtureRequest) -> str:
    """SQLite, PostgreSQL, and the documents on the Firestore emulator (with the relational side on SQLite)."""
    url: str = request.getfixturevalue("postgres_url" if request.param == "postgres" else "sqlite_url")
    return url


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@dataclass
class Org:
    id: str
    name: str
    email: str
    password: str
    h: dict[str, str]


@pytest.fixture
async def api(request: pytest.FixtureRequest, api_factory: ApiFactory, sandbox: Sandbox, task_queue: str) -> Api:
    extra: dict[str, Any] = {}
    if request.node.callspec.params["database_url"] == "firestore":
        emulator = request.getfixturevalue("firestore_emulator")
        await (await request.getfixturevalue("firestore_store_factory")()).close()  # an empty emulator
        extra = {"document_store": "firestore", "firestore_emulator_host": emulator.host}
    api = await api_factory(**desk_settings(sandbox, task_queue), **extra)
    assert isinstance(api.container.documents, FirestoreDocumentStore) == bool(extra)
    return api


async def _org(api: Api) -> Org:
    name = f"Acme {uuid.uuid4().hex[:6]}"
    owner = await api.register(org=name)
    me = (await api.http.get("/auth/me", headers=owner["headers"])).json()
    return Org(me["organization"]["id"], name, owner["email"], owner["password"], owner["headers"])


@pytest.fixture
async def org(api: Api) -> Org:
    return await _org(api)


@pytest.fixture
def desk(api: Api, org: Org, sandbox: Sandbox, temporal_client: Client) -> Desk:
    return Desk(api, org.h, sandbox, temporal_client)


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _ok(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    answered = await response
    assert answered.status_code == status, answered.text
    return answered.json()


async def _not_found(check: Awaitable[Any]) -> bool:
    try:
        await check
    except RPCError as exc:
        return exc.status == RPCStatusCode.NOT_FOUND
    return False


@dataclass
class Scene:
    """A soul with two accounts on one proxy (one linked to a connected channel and mapped to it), a scheduled post,
    a warming schedule, and a sister soul mapped to the same channel (its mapping names the first soul's account)."""

    channel: Channel
    handle: str
    second_account_id: str
    proxy_id: str
    sister_soul_id: str
    post_id: str

    @property
    def soul_id(self) -> str:
        return self.channel.soul_id

    @property
    def post_workflow_id(self) -> str:
        return f"post:{self.post_id}:{self.channel.integration_id}"


async def _scene(desk: Desk, proxy: PproxyServer | None = None) -> Scene:
    http, h = desk.api.http, desk.h
    # A dead proxy is never dialled here (the post is due in an hour) unless the channel is revoked.
    proxy_id = await desk.proxy(proxy) if proxy else await desk.proxy(port=9)
    channel = await desk.channel(Platform.X, proxy_id=proxy_id)
    account = await _ok(http.get(f"/axon/accounts/{channel.account_id}", headers=h))
    second = await _ok(http.post("/axon/accounts", headers=h, json={
        "soulId": channel.soul_id, "platform": "linkedin", "handle": "brandli", "proxyId": proxy_id,
        "credentials": {"password": desk.api.secret(f"li-pass-{uuid.uuid4().hex[:8]}")},
    }), 201)  # fmt: skip
    sister = await _ok(http.post("/axon/souls", json={"name": "Sister brand"}, headers=h), 201)
    pair = {"soulId": sister["id"], "integrationId": channel.integration_id}
    mapping = await _ok(http.post("/axon/matrix/mappings", json=pair, headers=h), 201)
    assert mapping["accountId"] == channel.account_id
    post = await desk.post(soulId=channel.soul_id, content="Due in an hour", publishDate=_in(3600))
    assert [d["state"] for d in post["deliveries"]] == ["QUEUE"]
    await desk.client.create_schedule(
        warming_schedule_id(channel.account_id),
        Schedule(
            action=ScheduleActionStartWorkflow(
                "AccountWarmingWorkflow", id=f"warming-run:{channel.account_id}", task_queue="nobody-polls-this"
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(days=1))]),
            state=ScheduleState(paused=True, note="stands in for the account's warming plan"),
        ),
    )
    return Scene(channel, account["handle"], second["id"], proxy_id, sister["id"], post["id"])


async def _assert_soul_erased(desk: Desk, org: Org, scene: Scene) -> None:
    http, h = desk.api.http, desk.h
    assert (await http.get(f"/axon/souls/{scene.soul_id}", headers=h)).status_code == 404
    for account_id in (scene.channel.account_id, scene.second_account_id):
        assert (await http.get(f"/axon/accounts/{account_id}", headers=h)).status_code == 404
    proxy = await _ok(http.get(f"/axon/proxies/{scene.proxy_id}", headers=h))
    assert proxy["assignedAccountIds"] == []  # released; the proxy itself is the organization's and stays
    assert (await http.get(f"/axon/posts/{scene.post_id}", headers=h)).status_code == 404
    # The channel is the organization's: still connected. The sister soul keeps its mapping, without the account.
    channel = await _ok(http.get(f"/axon/matrix/integrations/{scene.channel.integration_id}/souls", headers=h))
    assert [(s["mapping"]["soulId"], s["mapping"]["accountId"]) for s in channel["souls"]] == [
        (scene.sister_soul_id, None)
    ]
    async with desk.api.container.uow.reading() as uow:
        assert await uow.mappings.for_souls(org.id, [scene.soul_id]) == []
        assert (await uow.deliveries.for_posts(org.id, [scene.post_id])) == []
    # The post's workflow was cancelled rather than left waiting for its date; the warming schedule is deleted.
    state = await desk.client.get_workflow_handle_for(PostWorkflow.run, scene.post_workflow_id).result()
    assert state.state == DeliveryState.CANCELLED
    assert await _not_found(desk.client.get_schedule_handle(warming_schedule_id(scene.channel.account_id)).describe())
    # The handle and the channel are free again: nothing in either store still claims them.
    again = await _ok(http.post("/axon/accounts", headers=h, json={
        "soulId": scene.sister_soul_id, "platform": "x", "handle": scene.handle,
    }), 201)  # fmt: skip
    await _ok(http.patch(f"/axon/accounts/{again['id']}/integration", headers=h,
                         json={"integrationId": scene.channel.integration_id}))  # fmt: skip


# --- a soul --------------------------------------------------------------------------------------------------------


async def test_deleting_a_soul_removes_everything_attached_and_releases_its_proxy(
    desk: Desk, org: Org, temporal_client: Client
) -> None:
    http, h = desk.api.http, desk.h
    async with running_workers(desk.api, temporal_client):
        scene = await _scene(desk)
        blocked = await http.delete(f"/axon/souls/{scene.soul_id}", headers=h)
        assert (blocked.status_code, blocked.json()["code"]) == (409, "soul_has_accounts")
        assert set(blocked.json()["blocking"]) == {"accountIds", "mappingIds", "postIds"}
        sneaky = await http.patch(f"/axon/souls/{scene.soul_id}", json={"status": "deleting"}, headers=h)
        assert (sneaky.status_code, sneaky.json()["code"]) == (422, "status_not_settable")

        started = await _ok(http.delete(f"/axon/souls/{scene.soul_id}", params={"cascade": "true"}, headers=h), 202)
        assert started == {"workflowId": soul_deletion_id(scene.soul_id), "status": "deleting"}
        result = await temporal_client.get_workflow_handle_for(SoulDeletionWorkflow.run, started["workflowId"]).result()
        assert (result.soul_deleted, result.accounts_deleted, result.posts_deleted) == (True, 2, 1)
        await _assert_soul_erased(desk, org, scene)
        entries = await _ok(http.get("/axon/audit-logs", params={"action": "soul.delete"}, headers=h))
        assert [(e["targetId"], sorted(e["details"]["deletedAccountIds"])) for e in entries["items"]] == [
            (scene.soul_id, sorted([scene.channel.account_id, scene.second_account_id]))
        ]

        # A soul with nothing attached goes at once, without a workflow.
        bare = await _ok(http.post("/axon/souls", json={"name": "Nothing here"}, headers=h), 201)
        assert (await http.delete(f"/axon/souls/{bare['id']}", headers=h)).status_code == 204
        assert (await http.get(f"/axon/souls/{bare['id']}", headers=h)).status_code == 404

        # Another organization's soul is not found, and nothing happens to it.
        stranger = await _org(desk.api)
        theirs = await _ok(http.post("/axon/souls", json={"name": "Theirs"}, headers=stranger.h), 201)
        cross = await http.delete(f"/axon/souls/{theirs['id']}", params={"cascade": "true"}, headers=h)
        assert cross.status_code == 404
        assert (await http.get(f"/axon/souls/{theirs['id']}", headers=stranger.h)).status_code == 200


def _crash_after(real: Callable[[Any], Awaitable[Any]], arg_type: type[BaseModel], reached: asyncio.Event) -> Any:
    """The real step, then the worker 'dies' before it can report the step done (it never returns)."""

    async def stand_in(arg: Any) -> Any:
        await real(arg_type.model_validate(arg))
        reached.set()
        await asyncio.Event().wait()

    return activity.defn(name=real.__name__)(stand_in)


@pytest.mark.parametrize("step", ["stop_soul_posts", "delete_soul_account", "delete_soul"])
async def test_a_soul_deletion_killed_midway_is_finished_by_the_next_run_with_nothing_orphaned(
    desk: Desk, org: Org, temporal_client: Client, task_queue: str, step: str
) -> None:
    http, h = desk.api.http, desk.h
    api = desk.api
    async with running_workers(api, temporal_client):  # the post workflows keep being served throughout
        scene = await _scene(desk)
        steps = lifecycle_activities(
            temporal_client, api.container.settings, api.container.uow, api.container.documents
        )
        real = getattr(steps, step)
        reached = asyncio.Event()
        stand_in = _crash_after(real, AccountRef if step == "delete_soul_account" else SoulRef, reached)
        crash_queue = f"{task_queue}-crash"
        activities = [a for a in steps.all() if a.__name__ != step] + [stand_in]
        async with Worker(temporal_client, task_queue=crash_queue, workflows=[SoulDeletionWorkflow],
                          activities=activities, graceful_shutdown_timeout=timedelta(0)):  # fmt: skip
            first = await temporal_client.start_workflow(
                SoulDeletionWorkflow.run,
                SoulDeletionInput(organization_id=org.id, soul_id=scene.soul_id),
                id=soul_deletion_id(scene.soul_id),
                task_queue=crash_queue,
            )
            await asyncio.wait_for(reached.wait(), timeout=60)
            if step != "delete_soul":
                # Mid-deletion the soul shows it, and takes no new work.
                assert (await _ok(http.get(f"/axon/souls/{scene.soul_id}", headers=h)))["status"] == "deleting"
                listed = await _ok(http.get("/axon/souls", params={"status": "deleting"}, headers=h))
                assert [s["id"] for s in listed["items"]] == [scene.soul_id]
                post = await http.post("/axon/posts", json={"soulId": scene.soul_id, "content": "late"}, headers=h)
                assert (post.status_code, post.json()["code"]) == (409, "soul_deleting")
                renamed = await http.patch(f"/axon/souls/{scene.soul_id}", json={"name": "Back"}, headers=h)
                assert (renamed.status_code, renamed.json()["code"]) == (409, "soul_deleting")
                body = {"soulId": scene.soul_id, "integrationId": scene.channel.integration_id}
                mapped = await http.post("/axon/matrix/mappings", json=body, headers=h)
                assert (mapped.status_code, mapped.json()["code"]) == (409, "soul_deleting")
            await first.terminate("the worker died")
        # A new run finishes it: through the API while the soul is still there, else straight on Temporal.
        if step != "delete_soul":
            again = await _ok(http.delete(f"/axon/souls/{scene.soul_id}", headers=h), 202)
            assert again["workflowId"] == soul_deletion_id(scene.soul_id)
        else:
            await temporal_client.start_workflow(
                SoulDeletionWorkflow.run,
                SoulDeletionInput(organization_id=org.id, soul_id=scene.soul_id),
                id=soul_deletion_id(scene.soul_id),
                task_queue=task_queue,
            )
        second = temporal_client.get_workflow_handle_for(SoulDeletionWorkflow.run, soul_deletion_id(scene.soul_id))
        await asyncio.wait_for(second.result(), timeout=60)
        assert (await second.describe()).run_id != first.result_run_id
        await _assert_soul_erased(desk, org, scene)


# --- the organization ----------------------------------------------------------------------------------------------


async def _rows_of(api: Api, organization_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    async with api.container.engine.connect() as conn:
        for table in metadata.sorted_tables:
            column = table.c.get("organization_id") if table.name != "organization" else table.c.id
            if column is None:
                continue
            n = await conn.execute(select(func.count()).select_from(table).where(column == organization_id))
            counts[table.name] = int(n.scalar_one())
    return {name: n for name, n in counts.items() if n}


async def _documents_of(api: Api, organization_id: str) -> dict[str, int]:
    client = getattr(api.container.documents, "client", None)
    if client is None:  # the documents are SQL tables, counted by _rows_of
        return {}
    counts = {kind: len([d async for d in client.collection("orgs", organization_id, kind).stream()])
              for kind in FIRESTORE_KINDS}  # fmt: skip
    return {kind: n for kind, n in counts.items() if n}


async def test_deleting_the_organization_erases_all_of_it_and_only_it(
    desk: Desk, org: Org, temporal_client: Client, pproxy_http: PproxyServer
) -> None:
    http, h, api = desk.api.http, desk.h, desk.api
    async with running_workers(api, temporal_client):
        scene = await _scene(desk, pproxy_http)  # a live proxy: the channel's revoke goes out through it
        persona = await _ok(http.post("/axon/personas", json={"name": "Barista"}, headers=h), 201)
        await _ok(http.post("/axon/souls", json={"name": "Persona'd", "personaId": persona["id"]}, headers=h), 201)
        key = await _ok(http.post("/auth/api-keys", json={"name": "ci", "role": "admin"}, headers=h), 201)
        admin_password = api.secret(f"admin-pass-{uuid.uuid4().hex[:8]}")
        admin_email = f"admin-{uuid.uuid4().hex[:6]}@example.com"
        await _ok(http.post("/auth/users", headers=h, json={
            "email": admin_email, "name": "Admin", "role": "admin", "password": admin_password}), 201)  # fmt: skip
        admin = await _ok(http.post("/auth/login", json={"email": admin_email, "password": admin_password}))
        admin_h = {"Authorization": f"Bearer {admin['accessToken']}"}
        stranger = await _org(api)
        theirs = await _ok(http.post("/axon/souls", json={"name": "Theirs"}, headers=stranger.h), 201)
        assert await _rows_of(api, org.id)  # there is something to erase
        refresh_id = f"token-refresh:{scene.channel.integration_id}"
        assert (await temporal_client.get_workflow_handle(refresh_id).describe()).status == (
            WorkflowExecutionStatus.RUNNING
        )

        not_owner = await http.request("DELETE", "/axon/organization", json={"confirm": org.name}, headers=admin_h)
        assert (not_owner.status_code, not_owner.json()["code"]) == (403, "owner_required")
        wrong = await http.request("DELETE", "/axon/organization", json={"confirm": "Acme"}, headers=h)
        assert (wrong.status_code, wrong.json()["code"]) == (422, "confirmation_mismatch")
        assert (await http.get("/axon/souls", headers=h)).status_code == 200  # nothing happened

        started = await _ok(http.request("DELETE", "/axon/organization", json={"confirm": org.name}, headers=h), 202)
        assert started == {"workflowId": organization_deletion_id(org.id), "status": "deleting"}
        for headers in (h, admin_h, {"X-API-Key": key["key"]}):
            gone = await http.get("/axon/souls", headers=headers)
            assert (gone.status_code, gone.json()["code"]) == (410, "organization_deleted")
        handle = temporal_client.get_workflow_handle_for(OrganizationDeletionWorkflow.run, started["workflowId"])
        result = await asyncio.wait_for(handle.result(), timeout=120)

    assert result.organization_deleted
    assert (result.souls_deleted, result.integrations_disconnected) == (3, 1)
    assert await _rows_of(api, org.id) == {}
    assert await _documents_of(api, org.id) == {}
    assert (await http.get("/axon/souls", headers=h)).status_code == 410
    # Every process of the organization stopped: the channel's token refresh, the post's timer, the warming schedule.
    assert (await temporal_client.get_workflow_handle(refresh_id).describe()).status != WorkflowExecutionStatus.RUNNING
    state = await temporal_client.get_workflow_handle_for(PostWorkflow.run, scene.post_workflow_id).result()
    assert state.state == DeliveryState.CANCELLED
    assert await _not_found(
        temporal_client.get_schedule_handle(warming_schedule_id(scene.channel.account_id)).describe()
    )
    revokes = [r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/oauth2/revoke")]
    assert len(revokes) == 1  # the grant was handed back to the platform
    # The people are gone too: the owner's e-mail signs in nowhere and is free to register again.
    login = await http.post("/auth/login", json={"email": org.email, "password": org.password})
    assert login.status_code == 401
    await api.register(email=org.email)
    # The other organization did not lose a thing.
    assert (await http.get(f"/axon/souls/{theirs['id']}", headers=stranger.h)).status_code == 200


# --- export --------------------------------------------------------------------------------------------------------


async def test_export_holds_the_organizations_data_and_none_of_its_secrets(
    desk: Desk, org: Org, temporal_client: Client
) -> None:
    http, h, api = desk.api.http, desk.h, desk.api
    async with running_workers(api, temporal_client):
        scene = await _scene(desk)
    persona = await _ok(http.post("/axon/personas", json={"name": "Barista"}, headers=h), 201)
    member_password = api.secret(f"member-pass-{uuid.uuid4().hex[:8]}")
    member_email = f"member-{uuid.uuid4().hex[:6]}@example.com"
    await _ok(http.post("/auth/users", headers=h, json={
        "email": member_email, "name": "Member", "role": "member", "password": member_password}), 201)  # fmt: skip
    member = await _ok(http.post("/auth/login", json={"email": member_email, "password": member_password}))
    stranger = await _org(api)
    theirs = await _ok(http.post("/axon/souls", json={"name": "Theirs"}, headers=stranger.h), 201)

    refused = await http.get("/axon/export", headers={"Authorization": f"Bearer {member['accessToken']}"})
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    response = await http.get("/axon/export", headers=h)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["organization"]["id"], data["organization"]["name"]) == (org.id, org.name)
    assert sorted(u["email"] for u in data["users"]) == sorted([org.email, member_email])
    assert {s["id"] for s in data["souls"]} == {scene.soul_id, scene.sister_soul_id}
    assert [p["id"] for p in data["personas"]] == [persona["id"]]
    accounts = {a["id"]: a for a in data["accounts"]}
    assert set(accounts) == {scene.channel.account_id, scene.second_account_id}
    assert accounts[scene.second_account_id]["credentials"]["hasPassword"] is True
    assert [(p["id"], p["credentials"]["hasPassword"]) for p in data["proxies"]] == [(scene.proxy_id, True)]
    assert [i["id"] for i in data["integrations"]] == [scene.channel.integration_id]
    assert {m["soulId"] for m in data["mappings"]} == {scene.soul_id, scene.sister_soul_id}
    [post] = data["posts"]
    assert (post["id"], [d["state"] for d in post["deliveries"]]) == (scene.post_id, ["QUEUE"])
    assert {"post.create", "account.credentials_set"} <= {e["action"] for e in data["auditLogs"]}
    # No secret in any form: no sealed value, no password hash, no token of the channel, nothing of the stranger.
    text = response.text
    async with api.container.uow.reading() as uow:
        integration = await uow.integrations.get(org.id, scene.channel.integration_id)
    assert integration is not None
    assert integration.token is not None
    token = api.container.cipher.decrypt_str(
        integration.token, record=integration_record(integration.id), field="token"
    )
    for secret in (token, integration.token["data"], "passwordHash", '"tag"', '"iv"', theirs["id"]):
        assert secret not in text
