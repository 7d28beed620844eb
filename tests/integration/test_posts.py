"""Posts end to end below the HTTP edge: the API, the real workers on a real Temporal dev server, the platform
sandbox and real proxies. Each test checks what the platform holds (the sandbox's posts), not only our records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from activities.reconcile import ReconcileRequest, ReconcileResult
from domain.identity.platforms import Platform
from tests.conftest import ApiFactory
from tests.integration.publishing_desk import Desk, desk_settings, running_workers
from tests.platforms.conftest import Sandbox
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer, socket_owner_pid
from workflows import search_attributes
from workflows.reconcile import ReconcileWorkflow

sandbox_server = _sandbox_server


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
async def desk(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str
) -> AsyncIterator[Desk]:
    api = await api_factory(**desk_settings(sandbox, task_queue))
    h = (await api.register())["headers"]
    async with running_workers(api, temporal_client):
        yield Desk(api, h, sandbox, temporal_client)


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_a_post_publishes_at_its_time_through_the_accounts_proxy_and_collects_metrics(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    # The first attempt meets a 503; the retry is held open to see its peer and what operators can search for.
    desk.sandbox.fault(Platform.X, "server_error", endpoint="/2/tweets", status=503)
    desk.sandbox.fault(Platform.X, "slow", endpoint="/2/tweets", delay_s=1.5)
    post = await desk.post(soulId=channel.soul_id, content="Hello from the durable desk", publishDate=_in(2))
    assert [d["state"] for d in post["deliveries"]] == ["QUEUE"]
    owner = None
    deadline = time.monotonic() + 15
    while owner is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        pending = [
            r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/2/tweets") and r["status"] is None
        ]
        if pending:
            owner = socket_owner_pid(pending[-1]["peer_port"], desk.sandbox.port)
    assert owner == pproxy_http.pid  # the platform saw the proxy process, not us
    delivery = post["deliveries"][0]
    # A publish not settled at its first attempt is searchable as PUBLISHING (the first attempt is not: most
    # settle within a second, and the upsert would cost the server a visibility write per delivery).
    query = f'SoulId = "{channel.soul_id}" AND AccountId = "{channel.account_id}"'
    assert await _post_states(desk, query, "PUBLISHING") == ["PUBLISHING"]

    done = await desk.settled(post["id"])
    # The delivery's workflow is found by every id and the platform, and says it published.
    query += f' AND IntegrationId = "{channel.integration_id}" AND Platform = "x"'
    organization_id = (await desk.api.http.get("/auth/me", headers=desk.h)).json()["organization"]["id"]
    query += f' AND OrganizationId = "{organization_id}"'
    assert await _post_states(desk, query, "PUBLISHED") == ["PUBLISHED"]
    delivery = done["deliveries"][0]
    assert (done["state"], delivery["state"], delivery["attempts"]) == ("PUBLISHED", "PUBLISHED", 2)
    held = desk.platform_posts(Platform.X)
    assert [p["text"] for p in held] == ["Hello from the durable desk"]
    assert delivery["externalId"] == held[0]["id"]
    assert delivery["url"].endswith(f"/status/{held[0]['id']}")
    published_at = datetime.fromisoformat(delivery["publishedAt"])
    assert published_at >= datetime.fromisoformat(post["publishDate"])

    analytics = await _until_metrics(desk, post["id"])
    assert analytics["deliveries"][0]["latest"]["likes"] >= 0
    assert analytics["totals"]["impressions"] > 0


async def _post_states(desk: Desk, query: str, expected: str) -> list[str]:
    """The PostState search attribute of the workflows the query finds, once it reads `expected` (visibility lags)."""
    states: list[str] = []
    for _ in range(100):
        states = [
            str(w.typed_search_attributes.get(search_attributes.POST_STATE))
            async for w in desk.client.list_workflows(f'WorkflowType = "PostWorkflow" AND {query}')
        ]
        if states == [expected]:
            break
        await asyncio.sleep(0.05)
    return states


async def _until_metrics(desk: Desk, post_id: str) -> dict[str, Any]:
    for _ in range(100):
        response = await desk.api.http.get(f"/axon/posts/{post_id}/analytics", headers=desk.h)
        body = response.json()
        if body["deliveries"][0]["metrics"]:
            return dict(body)
        await asyncio.sleep(0.2)
    raise AssertionError("metrics were never collected")


async def test_reschedule_publish_now_and_cancel_steer_the_workflow(desk: Desk, pproxy_http: PproxyServer) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    later = await desk.post(soulId=channel.soul_id, content="Later", publishDate=_in(3600))
    url = f"/axon/posts/{later['id']}"

    past = await desk.api.http.post(f"{url}/reschedule", json={"publishDate": _in(-3600)}, headers=desk.h)
    assert (past.status_code, past.json()["code"]) == (422, "publish_date_in_past")
    naive = await desk.api.http.post(f"{url}/reschedule", json={"publishDate": "2030-01-01T09:00:00"}, headers=desk.h)
    assert (naive.status_code, naive.json()["code"]) == (422, "publish_date_naive")
    target = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    moved = await desk.api.http.post(f"{url}/reschedule", json={"publishDate": target.isoformat()}, headers=desk.h)
    assert moved.status_code == 200, moved.text

    assert datetime.fromisoformat(moved.json()["deliveries"][0]["publishDate"]) == target
    workflow = desk.client.get_workflow_handle(f"post:{later['id']}:{channel.integration_id}")
    state = await workflow.query("state")
    assert datetime.fromisoformat(state["publish_date"]) == target  # the timer moved, not just the record

    now = await desk.api.http.post(f"{url}/publish-now", headers=desk.h)
    assert now.status_code == 200, now.text
    published = await desk.settled(later["id"])
    assert published["deliveries"][0]["state"] == "PUBLISHED"
    too_late = await desk.api.http.post(f"{url}/reschedule", json={"publishDate": _in(7200)}, headers=desk.h)
    assert (too_late.status_code, too_late.json()["code"]) == (409, "post_not_waiting")
    assert (await desk.api.http.post(f"{url}/cancel", headers=desk.h)).status_code == 409
    edit = await desk.api.http.patch(url, json={"content": "changed"}, headers=desk.h)
    assert (edit.status_code, edit.json()["code"]) == (409, "post_not_editable")

    other = await desk.post(soulId=channel.soul_id, content="Never", publishDate=_in(3600))
    edited = await desk.api.http.patch(f"/axon/posts/{other['id']}", json={"content": "Never, edited"}, headers=desk.h)
    assert edited.json()["content"] == "Never, edited"
    cancelled = await desk.api.http.post(f"/axon/posts/{other['id']}/cancel", headers=desk.h)
    assert cancelled.status_code == 200, cancelled.text
    final = await desk.settled(other["id"])
    assert (final["state"], final["deliveries"][0]["state"]) == ("CANCELLED", "CANCELLED")
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Later"]


async def test_a_post_needing_approval_waits_for_an_admin(desk: Desk, pproxy_http: PproxyServer) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    waiting = await desk.post(soulId=channel.soul_id, content="Approved one", requiresApproval=True)
    rejected = await desk.post(soulId=channel.soul_id, content="Rejected one", requiresApproval=True)
    await asyncio.sleep(1.5)  # due now, but not approved: nothing may reach the platform
    assert desk.platform_posts(Platform.X) == []
    assert (await desk.get(waiting["id"]))["deliveries"][0]["state"] == "QUEUE"

    invite = await desk.api.http.post("/auth/users", json={"email": "m@example.com", "name": "M", "role": "member"},
                                      headers=desk.h)  # fmt: skip
    assert invite.status_code == 201, invite.text

    ok = await desk.api.http.post(f"/axon/posts/{waiting['id']}/approve", json={"note": "fine"}, headers=desk.h)
    assert (ok.status_code, ok.json()["approval"]) == (200, "approved")
    no = await desk.api.http.post(f"/axon/posts/{rejected['id']}/reject", headers=desk.h)
    assert (no.status_code, no.json()["approval"]) == (200, "rejected")
    assert (await desk.settled(waiting["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    assert (await desk.settled(rejected["id"]))["deliveries"][0]["state"] == "CANCELLED"
    again = await desk.api.http.post(f"/axon/posts/{waiting['id']}/approve", headers=desk.h)
    assert (again.status_code, again.json()["code"]) == (409, "not_pending")
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Approved one"]


async def test_bad_posts_are_refused_with_the_rule_and_nothing_is_saved(desk: Desk) -> None:
    channel = await desk.channel(Platform.X, proxy_id=None)
    cases: list[tuple[dict[str, Any], str | None, str | None]] = [
        ({"content": "x" * 281}, "content_invalid", "x"),
        ({"content": "hi", "publishDate": "2030-01-01T09:00:00"}, "publish_date_naive", None),
        ({"content": "hi", "publishDate": _in(-3600)}, "publish_date_in_past", None),
        ({"content": "hi", "integrationIds": ["nope"]}, "integration_not_found", None),
        ({"content": "hi", "media": [{"url": "file:///etc/passwd"}]}, None, None),
    ]
    for extra, code, platform in cases:
        response = await desk.api.http.post("/axon/posts", json={"soulId": channel.soul_id, **extra}, headers=desk.h)
        assert response.status_code == 422, (extra, response.text)
        if code:
            assert response.json()["code"] == code
        if platform:
            assert response.json()["violations"][0]["platform"] == platform
    unknown = await desk.api.http.post("/axon/posts", json={"soulId": "missing", "content": "hi"}, headers=desk.h)
    assert (unknown.status_code, unknown.json()["code"]) == (422, "soul_not_found")
    listed = await desk.api.http.get("/axon/posts", headers=desk.h)
    assert listed.json()["items"] == []
    stranger = (await desk.api.register())["headers"]
    assert (await desk.api.http.get("/axon/posts/whatever", headers=stranger)).status_code == 404


async def test_rate_limits_are_honoured_and_an_expired_token_is_refreshed_once(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    desk.sandbox.fault(Platform.X, "rate_limit", endpoint="/2/tweets", retry_after_s=2)
    limited = await desk.post(soulId=channel.soul_id, content="After the rate limit")
    done = await desk.settled(limited["id"])
    delivery = done["deliveries"][0]
    assert (delivery["state"], delivery["attempts"]) == ("PUBLISHED", 2)
    tweets = [r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/2/tweets")]
    assert tweets[1]["timestamp"] - tweets[0]["timestamp"] >= 1.5  # waited for the platform's reset, not 1 s

    token_calls = len([r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/oauth2/token")])
    desk.sandbox.fault(Platform.X, "expire_token", endpoint="/2/tweets")
    expired = await desk.post(soulId=channel.soul_id, content="After a refresh")
    assert (await desk.settled(expired["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    refreshes = [r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/oauth2/token")]
    assert len(refreshes) == token_calls + 1
    assert sorted(p["text"] for p in desk.platform_posts(Platform.X)) == ["After a refresh", "After the rate limit"]


async def test_revoked_duplicate_and_dead_proxy_fail_with_what_to_do(
    desk: Desk, pproxy_http: PproxyServer, refusing_port: int
) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    first = await desk.post(soulId=channel.soul_id, content="Said once")
    assert (await desk.settled(first["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    twice = await desk.post(soulId=channel.soul_id, content="Said once")
    duplicate = (await desk.settled(twice["id"]))["deliveries"][0]
    assert (duplicate["state"], duplicate["errorCode"], duplicate["attempts"]) == ("FAILED", "Duplicate", 1)
    assert "duplicate" in duplicate["hint"]

    dead = await desk.channel(Platform.LINKEDIN, proxy_id=await desk.proxy(port=refusing_port))
    before = len(desk.sandbox.requests(Platform.LINKEDIN))
    unreachable = await desk.post(soulId=dead.soul_id, content="Through a dead proxy")
    failed = (await desk.settled(unreachable["id"]))["deliveries"][0]
    assert (failed["state"], failed["errorCode"], failed["attempts"]) == ("FAILED", "Transient", 3)
    assert len(desk.sandbox.requests(Platform.LINKEDIN)) == before  # never a direct call around the proxy

    desk.sandbox.fault(Platform.X, "revoke_token", endpoint="/2/tweets")
    revoked = await desk.post(soulId=channel.soul_id, content="Revoked meanwhile")
    gone = (await desk.settled(revoked["id"]))["deliveries"][0]
    assert (gone["state"], gone["errorCode"]) == ("FAILED", "AuthRevoked")
    assert "reconnect" in gone["hint"]
    listed = (await desk.api.http.get("/integrations/list", headers=desk.h)).json()
    assert [i["refreshNeeded"] for i in listed if i["id"] == channel.integration_id] == [True]
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Said once"]


async def test_no_proxy_is_refused_unless_the_organization_allows_direct_publishing(desk: Desk) -> None:
    channel = await desk.channel(Platform.X, proxy_id=None)
    post = await desk.post(soulId=channel.soul_id, content="Direct")
    refused = (await desk.settled(post["id"]))["deliveries"][0]
    assert (refused["state"], refused["errorCode"]) == ("FAILED", "NoProxy")
    assert desk.platform_posts(Platform.X) == []
    allow = await desk.api.http.patch("/axon/organization/settings", json={"allowDirectPublishing": True},
                                      headers=desk.h)  # fmt: skip
    assert allow.json()["allowDirectPublishing"] is True
    retried = await desk.api.http.post(f"/axon/posts/{post['id']}/deliveries/{refused['id']}/retry", headers=desk.h)
    assert retried.status_code == 200, retried.text
    assert (await desk.settled(post["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    again = await desk.api.http.post(f"/axon/posts/{post['id']}/deliveries/{refused['id']}/retry", headers=desk.h)
    assert (again.status_code, again.json()["code"]) == (409, "delivery_not_retryable")


async def test_fan_out_goes_to_every_active_channel_of_the_soul(desk: Desk, pproxy_socks5: PproxyServer) -> None:
    proxy_id = await desk.proxy(pproxy_socks5)
    x = await desk.channel(Platform.X, proxy_id=proxy_id)
    linkedin = await desk.channel(Platform.LINKEDIN, proxy_id=proxy_id, soul_id=x.soul_id)
    await desk.channel(Platform.FACEBOOK, proxy_id=proxy_id, soul_id=x.soul_id, status="inactive")
    post = await desk.post(soulId=x.soul_id, content="Everywhere at once")
    assert sorted(d["integrationId"] for d in post["deliveries"]) == sorted([x.integration_id, linkedin.integration_id])
    done = await desk.settled(post["id"])
    assert {d["platform"]: d["state"] for d in done["deliveries"]} == {"x": "PUBLISHED", "linkedin": "PUBLISHED"}
    assert len(desk.platform_posts(Platform.X)) == len(desk.platform_posts(Platform.LINKEDIN)) == 1
    assert desk.platform_posts(Platform.FACEBOOK) == []
    by_state = await desk.api.http.get(
        "/axon/posts", params={"state": "PUBLISHED", "soulId": x.soul_id}, headers=desk.h
    )
    assert [p["id"] for p in by_state.json()["items"]] == [post["id"]]
    none = await desk.api.http.get("/axon/posts", params={"state": "FAILED"}, headers=desk.h)
    assert none.json()["items"] == []


async def test_the_reconciler_restarts_a_due_delivery_that_lost_its_workflow(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    post = await desk.post(soulId=channel.soul_id, content="Not lost", publishDate=_in(2))
    # An operator terminates the workflow in the Temporal UI before it publishes: the delivery is stuck in QUEUE.
    await desk.client.get_workflow_handle(f"post:{post['id']}:{channel.integration_id}").terminate("operator")
    await asyncio.sleep(2.5)
    assert (await desk.get(post["id"]))["deliveries"][0]["state"] == "QUEUE"
    settings = desk.api.container.settings
    result: ReconcileResult = await desk.client.execute_workflow(
        ReconcileWorkflow.run, ReconcileRequest(grace_s=0), id=f"reconcile-{post['id']}",
        task_queue=settings.temporal_task_queue,
    )  # fmt: skip
    assert result.restarted == [post["deliveries"][0]["id"]]
    assert (await desk.settled(post["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    again: ReconcileResult = await desk.client.execute_workflow(
        ReconcileWorkflow.run, ReconcileRequest(grace_s=0), id=f"reconcile-again-{post['id']}",
        task_queue=settings.temporal_task_queue,
    )  # fmt: skip
    assert again.restarted == []
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Not lost"]


async def test_concurrent_changes_to_a_post_are_all_kept_and_one_decision_wins(desk: Desk) -> None:
    channel = await desk.channel(Platform.X, proxy_id=None)
    post = await desk.post(soulId=channel.soul_id, content="Draft", publishDate=_in(3600), requiresApproval=True)
    url = f"/axon/posts/{post['id']}"
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    for round_ in range(4):
        # An edit and a reschedule at once: each writes its own fields, neither undoes the other.
        target = base + timedelta(minutes=round_)
        edited, moved = await asyncio.gather(
            desk.api.http.patch(url, json={"content": f"Edit {round_}"}, headers=desk.h),
            desk.api.http.post(f"{url}/reschedule", json={"publishDate": target.isoformat()}, headers=desk.h),
        )
        assert (edited.status_code, moved.status_code) == (200, 200), (edited.text, moved.text)
        now = await desk.get(post["id"])
        assert now["content"] == f"Edit {round_}"
        assert datetime.fromisoformat(now["publishDate"]) == target
        assert datetime.fromisoformat(now["deliveries"][0]["publishDate"]) == target
    # Approve and reject at once: one decides, the other is told it came too late.
    approve, reject = await asyncio.gather(
        desk.api.http.post(f"{url}/approve", headers=desk.h), desk.api.http.post(f"{url}/reject", headers=desk.h)
    )
    assert sorted([approve.status_code, reject.status_code]) == [200, 409], (approve.text, reject.text)
    winner = approve if approve.status_code == 200 else reject
    assert (await desk.get(post["id"]))["approval"] == winner.json()["approval"]
