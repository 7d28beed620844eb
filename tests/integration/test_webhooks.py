"""Outgoing webhooks end to end: the API, the real workers on a real Temporal dev server, a real HTTP receiver on a
loopback port, and (for post outcomes) the platform sandbox and a real proxy. Every request the receiver takes is
checked against the secret the API showed once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import json_format
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from activities.webhooks import SweepRequest, SweepResult
from adapters.crypto.fields import FieldCipher, Keyring, generate_key_spec
from adapters.sql.encrypted_columns import rotate
from adapters.sql.engine import session_factory
from adapters.sql.webhooks import WEBHOOK
from domain.channels.integrations import integration_record
from domain.identity.platforms import Platform
from domain.notifications.webhooks import Event, WebhookEvent, verify
from tests.conftest import LOGS, RESPONSES, Api, ApiFactory
from tests.integration.publishing_desk import Desk, desk_settings, running_workers
from tests.platforms.conftest import Sandbox
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer
from tests.support.webhook_receiver import Received, WebhookReceiver
from workflows.webhook import WebhookSweepWorkflow

sandbox_server = _sandbox_server
PUBLIC = "https://app.example.test"
FAST_RETRIES = {"webhook_retry_initial_s": 0.2, "webhook_retry_max_interval_s": 0.5, "webhook_max_attempts": 4}


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = await WebhookReceiver().start()
    yield server
    await server.stop()


@pytest.fixture
async def worked_api(api_factory: ApiFactory, temporal_client: Client, task_queue: str) -> AsyncIterator[Api]:
    """The API and the worker process's workers, with retries a test can wait for."""
    api = await api_factory(platform_queue_prefix=f"{task_queue}-", public_base_url=PUBLIC, **FAST_RETRIES)
    async with running_workers(api, temporal_client):
        yield api


async def _webhook(api: Api, h: dict[str, str], url: str, **extra: Any) -> dict[str, Any]:
    response = await api.http.post("/axon/webhooks", json={"url": url, **extra}, headers=h)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _delivery(api: Api, h: dict[str, str], webhook_id: str, delivery_id: str) -> dict[str, Any]:
    response = await api.http.get(f"/axon/webhooks/{webhook_id}/deliveries", params={"limit": 200}, headers=h)
    assert response.status_code == 200, response.text
    found = [d for d in response.json()["items"] if d["id"] == delivery_id]
    assert found, f"delivery {delivery_id} is not listed"
    delivery: dict[str, Any] = found[0]
    return delivery


async def _settled(api: Api, h: dict[str, str], webhook_id: str, delivery_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        delivery = await _delivery(api, h, webhook_id, delivery_id)
        if delivery["status"] != "pending":
            return delivery
        assert time.monotonic() < deadline, f"the delivery stayed pending: {delivery}"
        await asyncio.sleep(0.1)


def _signed(request: Received, secret: str) -> bool:
    return verify(secret, request.headers["x-webhook-signature"], request.body, now=int(time.time()))


async def _decoded_history(client: Client, workflow_id: str) -> str:
    """The workflow's history with every payload decrypted, as an operator with the codec key would see it."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    text = history.to_json()
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "metadata" in node and "data" in node:
                found.append(node)
            else:
                for value in node.values():
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text))
    codec = client.data_converter.payload_codec
    assert codec is not None
    decoded = await codec.decode([json_format.ParseDict(p, Payload()) for p in found])
    return text + "\n".join(p.data.decode(errors="replace") for p in decoded)


# --- managing webhooks -------------------------------------------------------------------------------------------


async def test_the_secret_is_shown_once_stored_sealed_and_managed_by_admins(api: Api) -> None:
    first = len(RESPONSES)
    owner = await api.register()
    h = owner["headers"]
    created = await _webhook(api, h, "https://hooks.example.test/souls", description="ops channel")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(secret) > 30
    assert created["events"] == ["post.published", "post.failed", "post.unconfirmed", "integration.refresh_needed"]
    assert (created["enabled"], created["description"]) == (True, "ops channel")
    url = f"/axon/webhooks/{created['id']}"

    got = (await api.http.get(url, headers=h)).json()
    assert "secret" not in got
    assert got["url"] == "https://hooks.example.test/souls"
    listed = (await api.http.get("/axon/webhooks", headers=h)).json()
    assert [w["id"] for w in listed["items"]] == [created["id"]]
    patched = await api.http.patch(
        url, json={"events": ["post.failed"], "enabled": False, "description": None}, headers=h
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["events"], patched.json()["enabled"], patched.json()["description"]) == (
        ["post.failed"],
        False,
        None,
    )
    rotated = await api.http.post(f"{url}/rotate-secret", headers=h)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != secret

    async with api.container.engine.connect() as conn:
        stored = (await conn.execute(select(WEBHOOK.c.secret).where(WEBHOOK.c.id == created["id"]))).scalar_one()
    assert set(stored) == {"alg", "kid", "iv", "data", "tag"}  # sealed, not the value
    assert new_secret not in json.dumps(stored)
    assert secret not in json.dumps(stored)

    member_key = await api.http.post("/auth/api-keys", json={"name": "reader", "role": "member"}, headers=h)
    member = {"X-API-Key": member_key.json()["key"]}
    assert (await api.http.get(url, headers=member)).status_code == 200  # members may look
    for method, path in [
        ("post", "/axon/webhooks"),
        ("patch", url),
        ("delete", url),
        ("post", f"{url}/rotate-secret"),
        ("post", f"{url}/test"),
    ]:
        body = {"url": "https://x.example.test"} if method != "delete" else None
        response = await api.http.request(method.upper(), path, json=body, headers=member)
        assert response.status_code == 403, (method, path, response.text)

    deleted = await api.http.delete(url, headers=h)
    assert deleted.status_code == 204
    assert (await api.http.get(url, headers=h)).status_code == 404
    audit = (await api.http.get("/axon/audit-logs", params={"limit": 200}, headers=h)).json()["items"]
    actions = [e["action"] for e in audit if e["targetId"] == created["id"]]
    assert {"webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.delete"} <= set(actions)

    # Each secret came back exactly once, in the answer that made it; never in a log line.
    answers = [body for _, body in RESPONSES[first:]]
    assert [json.loads(b)["id"] for b in answers if secret in b] == [created["id"]]
    assert [json.loads(b)["secret"] for b in answers if new_secret in b] == [new_secret]
    assert not [line for line in LOGS.lines if secret in line or new_secret in line]


async def test_bad_urls_and_unknown_events_are_refused_and_other_organizations_see_nothing(api: Api) -> None:
    h = (await api.register())["headers"]
    for body in [
        {"url": "ftp://hooks.example.test/x"},
        {"url": "not a url"},
        {"url": "https://"},
        {"url": "https://user:password@hooks.example.test/x"},
        {"url": "https://hooks.example.test:99999/x"},
        {"url": "https://hooks.example.test/x", "events": ["post.deleted"]},
        {"url": "https://hooks.example.test/x", "events": ["ping"]},
        {"url": "https://hooks.example.test/x", "events": []},
        {"url": "https://hooks.example.test/x", "secret": "mine"},
    ]:
        response = await api.http.post("/axon/webhooks", json=body, headers=h)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await api.http.get("/axon/webhooks", headers=h)).json()["items"] == []

    mine = await _webhook(api, h, "https://hooks.example.test/mine")
    bad_patch = await api.http.patch(f"/axon/webhooks/{mine['id']}", json={"url": "javascript:alert(1)"}, headers=h)
    assert (bad_patch.status_code, bad_patch.json()["code"]) == (422, "webhook_url_invalid")
    null_url = await api.http.patch(f"/axon/webhooks/{mine['id']}", json={"url": None}, headers=h)
    assert null_url.status_code == 422

    stranger = (await api.register())["headers"]
    base = f"/axon/webhooks/{mine['id']}"
    for method, path in [
        ("GET", base),
        ("PATCH", base),
        ("DELETE", base),
        ("POST", f"{base}/rotate-secret"),
        ("POST", f"{base}/test"),
        ("GET", f"{base}/deliveries"),
        ("POST", "/axon/webhooks/deliveries/whatever/redeliver"),
    ]:
        body = {"enabled": False} if method == "PATCH" else None
        response = await api.http.request(method, path, json=body, headers=stranger)
        assert response.status_code == 404, (method, path, response.text)
    assert (await api.http.get("/axon/webhooks", headers=stranger)).json()["items"] == []
    assert (await api.http.get(base, headers=h)).json()["enabled"] is True  # the stranger changed nothing


async def test_key_rotation_reencrypts_webhook_secrets(api_factory: ApiFactory, clean_db: AsyncEngine) -> None:
    old, new = generate_key_spec("old"), generate_key_spec("new")
    api = await api_factory(encryption_keys=old)
    h = (await api.register())["headers"]
    hook = await _webhook(api, h, "https://hooks.example.test/rotating")
    report = await rotate(session_factory(clean_db), FieldCipher(Keyring.parse(f"{new},{old}")))
    assert report.per_column["webhook.secret"] == 1
    async with clean_db.connect() as conn:
        stored = (await conn.execute(select(WEBHOOK.c.secret).where(WEBHOOK.c.id == hook["id"]))).scalar_one()
    only_new = FieldCipher(Keyring.parse(new))
    assert only_new.decrypt_str(stored, record=f"webhooks/{hook['id']}", field="secret") == hook["secret"]


# --- sending -----------------------------------------------------------------------------------------------------


async def test_a_ping_is_signed_and_retried_after_5xx_with_the_same_delivery_id_until_it_lands(
    worked_api: Api, receiver: WebhookReceiver, temporal_client: Client
) -> None:
    api = worked_api
    owner = await api.register()
    h = owner["headers"]
    hook = await _webhook(api, h, receiver.url("/flaky"))
    receiver.answer("/flaky", 500, 503)
    queued = await api.http.post(f"/axon/webhooks/{hook['id']}/test", headers=h)
    assert queued.status_code == 202, queued.text
    ping = queued.json()
    assert (ping["eventType"], ping["status"], ping["attempts"]) == ("ping", "pending", 0)

    requests = await receiver.wait_for("/flaky", 3)
    done = await _settled(api, h, hook["id"], ping["id"])
    assert (done["status"], done["attempts"], done["lastStatusCode"]) == ("delivered", 3, 200)
    assert done["deliveredAt"] is not None
    assert done["lastError"] is None
    assert {r.headers["x-webhook-id"] for r in requests} == {ping["id"]}  # one id across retries: receivers dedupe
    assert {r.headers["x-webhook-event"] for r in requests} == {"ping"}
    assert all(_signed(r, hook["secret"]) for r in requests)
    assert not _signed(requests[0], "whsec_not-the-secret")
    body = requests[-1].json()
    assert body == ping["payload"]
    assert (body["id"], body["type"], body["organizationId"]) == (ping["eventId"], "ping", body["organizationId"])
    assert body["data"]["link"] == f"{PUBLIC}/axon/webhooks/{hook['id']}"
    assert hook["secret"] not in requests[-1].body.decode()
    assert requests[1].at - requests[0].at >= 0.15  # backed off, not hammered

    history = await _decoded_history(temporal_client, f"webhook:{ping['id']}")
    assert ping["id"] in history  # the decoding worked: ids are there
    assert hook["secret"] not in history

    rotated = (await api.http.post(f"/axon/webhooks/{hook['id']}/rotate-secret", headers=h)).json()
    again = await api.http.post(f"/axon/webhooks/deliveries/{ping['id']}/redeliver", headers=h)
    assert again.status_code == 202, again.text
    redelivery = again.json()
    assert (redelivery["redeliveryOf"], redelivery["eventId"]) == (ping["id"], ping["eventId"])
    assert redelivery["id"] != ping["id"]
    fourth = (await receiver.wait_for("/flaky", 4))[-1]
    assert fourth.headers["x-webhook-id"] == redelivery["id"]
    assert _signed(fourth, rotated["secret"])
    assert not _signed(fourth, hook["secret"])
    assert (await _settled(api, h, hook["id"], redelivery["id"]))["status"] == "delivered"

    listed = (await api.http.get(f"/axon/webhooks/{hook['id']}/deliveries", params={"limit": 1}, headers=h)).json()
    assert [d["id"] for d in listed["items"]] == [redelivery["id"]]  # newest first
    rest = await api.http.get(
        f"/axon/webhooks/{hook['id']}/deliveries", params={"limit": 1, "cursor": listed["nextCursor"]}, headers=h
    )
    assert [d["id"] for d in rest.json()["items"]] == [ping["id"]]


async def test_a_final_4xx_fails_at_once_and_the_last_attempt_gives_up(
    worked_api: Api, receiver: WebhookReceiver
) -> None:
    api = worked_api
    h = (await api.register())["headers"]
    gone = await _webhook(api, h, receiver.url("/gone"))
    bad = await _webhook(api, h, receiver.url("/bad"))
    down = await _webhook(api, h, receiver.url("/down"))
    receiver.answer("/gone", 410)
    receiver.answer("/bad", 400)
    receiver.answer("/down", *[500] * 10)
    pings = {
        path: (await api.http.post(f"/axon/webhooks/{hook['id']}/test", headers=h)).json()
        for path, hook in [("/gone", gone), ("/bad", bad), ("/down", down)]
    }
    failed_gone = await _settled(api, h, gone["id"], pings["/gone"]["id"])
    failed_bad = await _settled(api, h, bad["id"], pings["/bad"]["id"])
    given_up = await _settled(api, h, down["id"], pings["/down"]["id"])

    assert (failed_gone["status"], failed_gone["attempts"], failed_gone["lastStatusCode"]) == ("failed", 1, 410)
    assert (failed_bad["status"], failed_bad["attempts"], failed_bad["lastStatusCode"]) == ("failed", 1, 400)
    assert "HTTP 410" in failed_gone["lastError"]
    assert (given_up["status"], given_up["attempts"], given_up["lastStatusCode"]) == ("failed", 4, 500)
    assert "HTTP 500" in given_up["lastError"]
    assert given_up["nextAttemptAt"] is None
    await asyncio.sleep(1.0)  # longer than the backoff: a retry would have come by now
    assert (len(receiver.at("/gone")), len(receiver.at("/bad")), len(receiver.at("/down"))) == (1, 1, 4)

    pending = await api.http.post(f"/axon/webhooks/{down['id']}/test", headers=h)
    early = await api.http.post(f"/axon/webhooks/deliveries/{pending.json()['id']}/redeliver", headers=h)
    assert (early.status_code, early.json()["code"]) == (409, "webhook_delivery_pending")
    await api.http.patch(f"/axon/webhooks/{gone['id']}", json={"enabled": False}, headers=h)
    disabled = await api.http.post(f"/axon/webhooks/{gone['id']}/test", headers=h)
    assert (disabled.status_code, disabled.json()["code"]) == (409, "webhook_disabled")


async def test_the_sweep_sends_a_stored_delivery_whose_sending_never_started(
    worked_api: Api, receiver: WebhookReceiver, temporal_client: Client
) -> None:
    api = worked_api
    h = (await api.register())["headers"]
    hook = await _webhook(api, h, receiver.url("/later"))
    notifier = api.container.webhooks._notifier  # the API's own notifier, as the activities use one
    org = (await api.http.get("/auth/me", headers=h)).json()["organization"]["id"]
    event = Event(
        id="evt-lost",
        type=WebhookEvent.POST_FAILED,
        organization_id=org,
        created_at=api.container.clock.now(),
        data={"postId": "p"},
    )
    async with api.container.uow() as uow:  # stored, then the process "died" before starting the workflow
        queued = await notifier.enqueue(uow, event)
        await uow.commit()
    assert [d.webhook_id for d in queued] == [hook["id"]]
    await asyncio.sleep(0.5)
    assert receiver.at("/later") == []

    result: SweepResult = await temporal_client.execute_workflow(
        WebhookSweepWorkflow.run,
        SweepRequest(grace_s=0),
        id=f"sweep-{hook['id']}",
        task_queue=api.container.settings.temporal_task_queue,
    )
    assert queued[0].id in result.resumed
    landed = (await receiver.wait_for("/later", 1))[0]
    assert landed.headers["x-webhook-id"] == queued[0].id
    assert _signed(landed, hook["secret"])
    assert (await _settled(api, h, hook["id"], queued[0].id))["status"] == "delivered"
    async with api.container.uow() as uow:  # emitting the same event again stores and sends nothing new
        assert [d.id for d in await notifier.enqueue(uow, event)] == []


# --- post outcomes -----------------------------------------------------------------------------------------------


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
async def desk(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str
) -> AsyncIterator[Desk]:
    api = await api_factory(**desk_settings(sandbox, task_queue, public_base_url=PUBLIC, **FAST_RETRIES))
    h = (await api.register())["headers"]
    async with running_workers(api, temporal_client):
        yield Desk(api, h, sandbox, temporal_client)


def _events(receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    return [r.json() for r in receiver.at(path)]


async def test_a_published_post_is_told_once_to_each_subscribed_webhook_with_a_link(
    desk: Desk, receiver: WebhookReceiver, pproxy_http: PproxyServer
) -> None:
    everything = await _webhook(desk.api, desk.h, receiver.url("/all"))
    await _webhook(desk.api, desk.h, receiver.url("/failures"), events=["post.failed"])
    muted = await _webhook(desk.api, desk.h, receiver.url("/muted"))
    await desk.api.http.patch(f"/axon/webhooks/{muted['id']}", json={"enabled": False}, headers=desk.h)
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))

    post = await desk.post(soulId=channel.soul_id, content="Told to the webhooks")
    done = (await desk.settled(post["id"]))["deliveries"][0]
    assert done["state"] == "PUBLISHED"
    request = (await receiver.wait_for("/all", 1))[0]
    await asyncio.sleep(2.0)  # past the metrics reading (1 s): nothing else may be told
    assert len(receiver.at("/all")) == 1
    assert receiver.at("/failures") == []
    assert receiver.at("/muted") == []

    assert _signed(request, everything["secret"])
    body = request.json()
    assert body["type"] == "post.published"
    assert request.headers["x-webhook-event"] == "post.published"
    assert body["data"] == {
        "postId": post["id"],
        "deliveryId": done["id"],
        "integrationId": channel.integration_id,
        "platform": "x",
        "state": "PUBLISHED",
        "externalPostId": done["externalId"],
        "url": done["url"],
        "error": None,
        "link": f"{PUBLIC}/axon/posts/{post['id']}",
    }
    listed = (await desk.api.http.get(f"/axon/webhooks/{everything['id']}/deliveries", headers=desk.h)).json()
    assert [(d["eventType"], d["status"], d["attempts"]) for d in listed["items"]] == [
        ("post.published", "delivered", 1)
    ]
    assert listed["items"][0]["id"] == request.headers["x-webhook-id"]


async def test_a_revoked_token_is_told_as_a_failed_post_and_a_channel_to_reconnect(
    desk: Desk, receiver: WebhookReceiver, pproxy_http: PproxyServer
) -> None:
    hook = await _webhook(desk.api, desk.h, receiver.url("/ops"))
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    desk.sandbox.fault(Platform.X, "revoke_token", endpoint="/2/tweets")
    receiver.answer("/ops", 502)  # the first one to arrive is retried, and still told once

    post = await desk.post(soulId=channel.soul_id, content="Revoked meanwhile")
    failed = (await desk.settled(post["id"]))["deliveries"][0]
    assert (failed["state"], failed["errorCode"]) == ("FAILED", "AuthRevoked")
    await receiver.wait_for("/ops", 3)
    await asyncio.sleep(1.5)
    requests = receiver.at("/ops")
    assert all(_signed(r, hook["secret"]) for r in requests)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in _events(receiver, "/ops"):
        by_type.setdefault(event["type"], []).append(event)
    assert len({r.headers["x-webhook-id"] for r in requests}) == 2  # two events; the retry repeated one id
    assert sorted(by_type) == ["integration.refresh_needed", "post.failed"]
    told_failed = by_type["post.failed"][-1]["data"]
    assert (told_failed["postId"], told_failed["deliveryId"], told_failed["state"]) == (
        post["id"],
        failed["id"],
        "FAILED",
    )
    assert told_failed["error"]["code"] == "AuthRevoked"
    assert told_failed["link"] == f"{PUBLIC}/axon/posts/{post['id']}"
    reconnect = by_type["integration.refresh_needed"][-1]["data"]
    assert (reconnect["integrationId"], reconnect["platform"], reconnect["state"]) == (
        channel.integration_id,
        "x",
        "refresh_needed",
    )
    assert reconnect["link"] == f"{PUBLIC}/integrations/list?integrationId={channel.integration_id}"
    listed = (await desk.api.http.get("/integrations/list", headers=desk.h)).json()
    assert [i["refreshNeeded"] for i in listed if i["id"] == channel.integration_id] == [True]


async def test_a_refresh_the_platform_refuses_is_told_once_as_a_channel_to_reconnect(
    desk: Desk, receiver: WebhookReceiver, pproxy_http: PproxyServer
) -> None:
    hook = await _webhook(desk.api, desk.h, receiver.url("/channels"), events=["integration.refresh_needed"])
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    org = (await desk.api.http.get("/auth/me", headers=desk.h)).json()["organization"]["id"]
    # The platform no longer knows the grant: the stored refresh token is one it never issued.
    async with desk.api.container.uow() as uow:
        integration = await uow.integrations.get(org, channel.integration_id)
        assert integration is not None
        forgotten = desk.api.container.cipher.encrypt(
            "refresh-token-the-platform-forgot", record=integration_record(integration.id), field="refreshToken"
        )
        await uow.integrations.update(integration.model_copy(update={"refresh_token": forgotten}))
        await uow.commit()

    refresh = await desk.api.http.post(f"/integrations/{channel.integration_id}/refresh", headers=desk.h)
    assert refresh.status_code == 202, refresh.text
    told = (await receiver.wait_for("/channels", 1))[0]
    again = await desk.api.http.post(f"/integrations/{channel.integration_id}/refresh", headers=desk.h)
    assert again.status_code == 202, again.text
    await asyncio.sleep(2.0)
    assert len(receiver.at("/channels")) == 1  # told when it happened, not on every later look
    assert _signed(told, hook["secret"])
    data = told.json()["data"]
    assert (told.json()["type"], data["integrationId"], data["state"]) == (
        "integration.refresh_needed",
        channel.integration_id,
        "refresh_needed",
    )
    assert data["link"] == f"{PUBLIC}/integrations/list?integrationId={channel.integration_id}"
    listed = (await desk.api.http.get("/integrations/list", headers=desk.h)).json()
    assert [i["refreshNeeded"] for i in listed if i["id"] == channel.integration_id] == [True]
