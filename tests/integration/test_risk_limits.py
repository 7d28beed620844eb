"""Risk limits per account (daily post limit, cooldown, warnings) end to end: the stores (SQLite, PostgreSQL, Firestore
emulator), the API, and the PostWorkflow on a real Temporal dev server publishing to the platform sandbox through
real proxies: over the limit a delivery waits in the QUEUE (or fails, by the organization's policy), a cooldown is
honoured, and a platform's rate limit or spam answer raises the warnings and starts a cooldown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.publishing import DeliveryRef, PublishOutcome
from domain.identity.accounts import AccountStatus
from domain.identity.platforms import Platform
from domain.identity.ports import DocumentStore
from sandbox.publishing.facebook_graph import SPAM_MARKER
from tests.conftest import Api, ApiFactory
from tests.integration.publishing_desk import Desk, desk_settings, running_workers
from tests.platforms.conftest import Sandbox
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support import identity as make
from tests.support.document_stores import document_settings as _document_settings
from tests.support.proxies import PproxyServer
from worker import build_workers
from workflows.post_messages import platform_queue

sandbox_server, document_settings = _sandbox_server, _document_settings

ORG = "org-a"
OTHER = "org-b"


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


def _in(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def _account(desk: Desk, account_id: str) -> dict[str, Any]:
    response = await desk.api.http.get(f"/axon/accounts/{account_id}", headers=desk.h)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _patch(desk: Desk, account_id: str, **body: Any) -> dict[str, Any]:
    response = await desk.api.http.patch(f"/axon/accounts/{account_id}", json=body, headers=desk.h)
    assert response.status_code == 200, response.text
    changed: dict[str, Any] = response.json()
    return changed


async def _policy(desk: Desk, policy: str) -> None:
    response = await desk.api.http.patch(
        "/axon/organization/settings", json={"overLimitPolicy": policy}, headers=desk.h
    )
    assert (response.status_code, response.json()["overLimitPolicy"]) == (200, policy)


def _waiting(post: dict[str, Any]) -> bool:
    delivery: dict[str, Any] = post["deliveries"][0]
    return (delivery["state"], delivery["errorCode"]) == ("QUEUE", "RiskLimitWait")


# --- the stores ------------------------------------------------------------------------------------------------


async def test_risk_fields_are_stored_and_a_warning_keeps_the_longer_cooldown(document_store: DocumentStore) -> None:
    soul = make.soul(ORG)
    await document_store.souls.add(soul)
    now = datetime.now(UTC).replace(microsecond=0)
    account = make.account(ORG, soul.id, daily_post_limit=3, cooldown_until=now, cooldown_reason="x", warning_count=2)
    await document_store.accounts.add(account)
    assert await document_store.accounts.get(ORG, account.id) == account.model_copy(update={"proxy_failed": False})

    later = now + timedelta(hours=1)
    flagged = await document_store.accounts.record_warning(
        ORG, account.id, cooldown_until=later, reason="the platform rate limited it", updated_at=now
    )
    assert flagged is not None
    assert (flagged.warning_count, flagged.cooldown_until, flagged.cooldown_reason) == (
        3, later, "the platform rate limited it"
    )  # fmt: skip
    # A shorter cooldown does not cut a running one short; the warning still counts.
    again = await document_store.accounts.record_warning(
        ORG, account.id, cooldown_until=now + timedelta(minutes=5), reason="shorter", updated_at=now
    )
    stored = await document_store.accounts.get(ORG, account.id)
    assert again == stored
    assert stored is not None
    assert (stored.warning_count, stored.cooldown_until, stored.cooldown_reason) == (
        4, later, "the platform rate limited it"
    )  # fmt: skip
    assert stored.daily_post_limit == 3
    # Another organization's account is not found, and not changed.
    assert await document_store.accounts.record_warning(OTHER, account.id, cooldown_until=later, reason="r",
                                                        updated_at=now) is None  # fmt: skip
    assert (await document_store.accounts.get(ORG, account.id)) == stored
    cleared = await document_store.accounts.update(
        stored.model_copy(update={"cooldown_until": None, "cooldown_reason": None, "warning_count": 0,
                                  "daily_post_limit": None})
    )  # fmt: skip
    assert await document_store.accounts.get(ORG, account.id) == cleared
    assert (cleared.cooldown_until, cleared.warning_count, cleared.daily_post_limit) == (None, 0, None)


async def test_warming_progress_is_written_alone_and_keeps_an_edit_made_meanwhile(
    document_store: DocumentStore,
) -> None:
    soul = make.soul(ORG)
    await document_store.souls.add(soul)
    now = datetime.now(UTC).replace(microsecond=0)
    account = make.account(ORG, soul.id, metrics={"followers": 7, "warming": {"doneToday": 1, "day": 2}})
    await document_store.accounts.add(account)
    stale = await document_store.accounts.get(ORG, account.id)  # what a warming step read
    assert stale is not None
    edited = await document_store.accounts.update(  # an operator's edit lands after that read
        stale.model_copy(update={"cooldown_until": now + timedelta(hours=2), "display_name": "Edited"})
    )

    def one_more(progress: dict[str, Any]) -> dict[str, Any]:
        return {**progress, "doneToday": progress["doneToday"] + 1}

    warmed = await document_store.accounts.update_warming(
        ORG, account.id, one_more, updated_at=now, last_activity_at=now, status=AccountStatus.ACTIVE
    )
    stored = await document_store.accounts.get(ORG, account.id)
    assert warmed == stored
    assert stored is not None
    assert (stored.cooldown_until, stored.display_name) == (edited.cooldown_until, "Edited")  # kept
    assert stored.metrics == {"followers": 7, "warming": {"doneToday": 2, "day": 2}}
    assert (stored.last_activity_at, stored.status) == (now, AccountStatus.ACTIVE)
    assert await document_store.accounts.update_warming(OTHER, account.id, one_more, updated_at=now) is None


# --- the API ---------------------------------------------------------------------------------------------------


async def test_the_api_shows_and_edits_risk_limits(api_factory: ApiFactory, document_settings: dict[str, Any]) -> None:
    api: Api = await api_factory(**document_settings)
    h = (await api.register())["headers"]
    soul = (await api.http.post("/axon/souls", json={"name": "Brand"}, headers=h)).json()
    created = await api.http.post(
        "/axon/accounts", json={"soulId": soul["id"], "platform": "x", "handle": "brand", "dailyPostLimit": 5},
        headers=h,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    account = created.json()
    risk = (account["dailyPostLimit"], account["cooldownUntil"], account["cooldownReason"], account["warningCount"])
    assert risk == (5, None, None, 0)
    url = f"/axon/accounts/{account['id']}"

    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    patched = await api.http.patch(url, json={"cooldownUntil": until.isoformat(), "warningCount": 3}, headers=h)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert datetime.fromisoformat(body["cooldownUntil"]) == until
    assert (body["cooldownReason"], body["warningCount"], body["dailyPostLimit"]) == ("an operator set it", 3, 5)
    assert (await api.http.get(url, headers=h)).json() == body

    # Members set the daily limit; only owners and admins touch cooldowns and warnings.
    member_key = await api.http.post("/auth/api-keys", json={"name": "m", "role": "member"}, headers=h)
    member = {"X-API-Key": member_key.json()["key"]}
    assert (await api.http.patch(url, json={"dailyPostLimit": 2}, headers=member)).json()["dailyPostLimit"] == 2
    for change in ({"cooldownUntil": None}, {"warningCount": 0}):
        refused = await api.http.patch(url, json=change, headers=member)
        assert (refused.status_code, refused.json()["code"]) == (403, "role_required"), change
    cleared = await api.http.patch(url, json={"cooldownUntil": None, "warningCount": 0, "dailyPostLimit": None},
                                   headers=h)  # fmt: skip
    assert (cleared.json()["cooldownUntil"], cleared.json()["cooldownReason"], cleared.json()["warningCount"],
            cleared.json()["dailyPostLimit"]) == (None, None, 0, None)  # fmt: skip
    audited = (await api.http.get("/axon/audit-logs", params={"action": "account.risk_limits"}, headers=h)).json()
    assert [e["details"] for e in audited["items"]] == [  # newest first
        {"cooldownUntil": None, "warningCount": 0, "dailyPostLimit": None},
        {"dailyPostLimit": 2},
        {"cooldownUntil": until.isoformat(), "warningCount": 3},
    ]

    for bad in (
        {"dailyPostLimit": 0}, {"dailyPostLimit": -1}, {"dailyPostLimit": "many"}, {"dailyPostLimit": 10**9},
        {"warningCount": -1}, {"warningCount": None}, {"cooldownUntil": "2030-01-01T09:00:00"},
        {"cooldownUntil": "soon"},
    ):  # fmt: skip
        response = await api.http.patch(url, json=bad, headers=h)
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await api.http.get(url, headers=h)).json()["warningCount"] == 0

    stranger = (await api.register())["headers"]
    assert (await api.http.get(url, headers=stranger)).status_code == 404
    assert (await api.http.patch(url, json={"dailyPostLimit": 1}, headers=stranger)).status_code == 404
    assert (await api.http.get(url, headers=h)).json()["dailyPostLimit"] is None


async def test_the_over_limit_policy_is_an_organization_setting(api: Api) -> None:
    h = (await api.register())["headers"]
    assert (await api.http.get("/axon/organization/settings", headers=h)).json()["overLimitPolicy"] == "wait"
    changed = await api.http.patch("/axon/organization/settings", json={"overLimitPolicy": "fail"}, headers=h)
    assert (changed.status_code, changed.json()["overLimitPolicy"]) == (200, "fail")
    for bad in ("later", None, 3):
        response = await api.http.patch("/axon/organization/settings", json={"overLimitPolicy": bad}, headers=h)
        assert response.status_code == 422, (bad, response.text)
    assert (await api.http.get("/axon/organization/settings", headers=h)).json()["overLimitPolicy"] == "fail"
    other = (await api.register())["headers"]
    assert (await api.http.get("/axon/organization/settings", headers=other)).json()["overLimitPolicy"] == "wait"


# --- publishing ------------------------------------------------------------------------------------------------


async def test_over_the_daily_limit_a_delivery_waits_for_the_personas_next_day(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    persona = await desk.api.http.post("/axon/personas", json={"name": "Voice", "timezone": "Pacific/Kiritimati"},
                                       headers=desk.h)  # fmt: skip
    assert persona.status_code == 201, persona.text
    soul = await desk.api.http.post("/axon/souls", json={"name": "Brand", "personaId": persona.json()["id"]},
                                    headers=desk.h)  # fmt: skip
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http), soul_id=soul.json()["id"])
    await _patch(desk, channel.account_id, dailyPostLimit=1)

    first = await desk.post(soulId=channel.soul_id, content="First of the day")
    assert (await desk.settled(first["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    second = await desk.post(soulId=channel.soul_id, content="Second of the day")
    held = (await desk.until(second["id"], _waiting))["deliveries"][0]
    assert held["attempts"] == 0  # no attempt was made: the claim was taken back
    assert held["hint"] is not None
    assert held["hint"].startswith("waiting: daily limit reached, resumes at ")

    # The window is the Persona's day (UTC+14), not the UTC one.
    kiritimati = ZoneInfo("Pacific/Kiritimati")
    tomorrow = (datetime.now(kiritimati) + timedelta(days=1)).date()
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=kiritimati).astimezone(UTC)
    workflow = desk.client.get_workflow_handle(f"post:{second['id']}:{channel.integration_id}")
    # The record is back in the QUEUE before the activity returns; the workflow follows a moment later.
    async with asyncio.timeout(10):
        while True:
            state = await workflow.query("state")
            if state["state"] == "QUEUE":
                break
            await asyncio.sleep(0.05)
    assert (state["state"], state["error_code"]) == ("QUEUE", "RiskLimitWait")
    assert datetime.fromisoformat(state["wait_until"]) == midnight
    assert midnight.isoformat() in held["hint"]
    await asyncio.sleep(1.0)
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["First of the day"]

    # Raising the limit lets it go at once (it does not wait for the next day), once.
    await _patch(desk, channel.account_id, dailyPostLimit=2)
    done = (await desk.settled(second["id"], within_s=20))["deliveries"][0]
    assert (done["state"], done["attempts"], done["errorCode"], done["lastError"]) == ("PUBLISHED", 1, None, None)
    assert sorted(p["text"] for p in desk.platform_posts(Platform.X)) == ["First of the day", "Second of the day"]
    assert (await workflow.query("state"))["wait_until"] is None


async def test_posts_due_together_never_exceed_the_daily_limit(desk: Desk, pproxy_http: PproxyServer) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    await _patch(desk, channel.account_id, dailyPostLimit=2)
    due = _in(2).isoformat()  # one instant: the claims race each other
    posts = await asyncio.gather(
        *(desk.post(soulId=channel.soul_id, content=f"Together {i}", publishDate=due) for i in range(8))
    )
    await asyncio.sleep(2)
    async with asyncio.timeout(30):
        while True:
            views = [await desk.get(p["id"]) for p in posts]
            states = sorted(v["deliveries"][0]["state"] for v in views)
            waiting = [v for v in views if _waiting(v)]
            if states.count("PUBLISHED") + len(waiting) == len(posts):
                break
            await asyncio.sleep(0.2)
    assert states.count("PUBLISHED") == 2, states
    assert len(desk.platform_posts(Platform.X)) == 2


async def test_over_the_daily_limit_a_delivery_fails_when_the_organization_says_so(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    await _policy(desk, "fail")
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    await _patch(desk, channel.account_id, dailyPostLimit=1)
    first = await desk.post(soulId=channel.soul_id, content="Only one today")
    assert (await desk.settled(first["id"]))["deliveries"][0]["state"] == "PUBLISHED"
    second = await desk.post(soulId=channel.soul_id, content="One too many")
    failed = (await desk.settled(second["id"]))["deliveries"][0]
    assert (failed["state"], failed["errorCode"], failed["attempts"]) == ("FAILED", "RiskLimit", 0)
    handle = (await _account(desk, channel.account_id))["handle"]
    assert failed["lastError"].startswith(f"account @{handle} reached its daily limit of 1 post; it resets at ")
    assert "risk limits" in failed["hint"]
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Only one today"]

    # Still over the limit: a retry fails again; once the window allows it, the retry publishes.
    workflow = desk.client.get_workflow_handle(f"post:{second['id']}:{channel.integration_id}")
    url = f"/axon/posts/{second['id']}/deliveries/{failed['id']}/retry"
    await workflow.result()  # a retry while the run still reports its failure would join that run
    assert (await desk.api.http.post(url, headers=desk.h)).status_code == 200
    again = (await desk.settled(second["id"]))["deliveries"][0]
    assert (again["state"], again["errorCode"]) == ("FAILED", "RiskLimit")
    await _patch(desk, channel.account_id, dailyPostLimit=2)
    await desk.client.get_workflow_handle(workflow.id).result()
    assert (await desk.api.http.post(url, headers=desk.h)).status_code == 200
    assert (await desk.settled(second["id"]))["deliveries"][0]["state"] == "PUBLISHED"


async def test_a_cooldown_is_honoured_by_a_post(desk: Desk, pproxy_http: PproxyServer) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    # Long enough for the delivery to be seen waiting on a loaded machine: with 4 test processes on 2 cores, a post
    # once took 6 s from creation to its first publish attempt, after a 4 s cooldown had already ended.
    until = _in(10)
    await _patch(desk, channel.account_id, cooldownUntil=until.isoformat())
    post = await desk.post(soulId=channel.soul_id, content="After the cooldown")
    held = (await desk.until(post["id"], _waiting))["deliveries"][0]
    assert held["hint"].startswith("waiting: account cooling down, resumes at ")
    assert desk.platform_posts(Platform.X) == []

    done = (await desk.settled(post["id"], within_s=30))["deliveries"][0]
    assert (done["state"], done["attempts"]) == ("PUBLISHED", 1)
    tweets = [r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/2/tweets")]
    assert len(tweets) == 1
    assert tweets[0]["timestamp"] >= until.timestamp() - 0.01  # not before the cooldown ended


async def test_loosening_the_limits_wakes_the_waiting_deliveries_at_once(desk: Desk, pproxy_http: PproxyServer) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    await _patch(desk, channel.account_id, cooldownUntil=_in(3600).isoformat())
    post = await desk.post(soulId=channel.soul_id, content="Cooldown lifted")
    await desk.until(post["id"], _waiting)
    await _patch(desk, channel.account_id, displayName="Renamed")  # not a looser limit: it keeps waiting
    await asyncio.sleep(1)
    assert _waiting(await desk.get(post["id"]))

    await _patch(desk, channel.account_id, cooldownUntil=None)  # an hour early
    done = (await desk.settled(post["id"], within_s=20))["deliveries"][0]
    assert (done["state"], done["attempts"]) == ("PUBLISHED", 1)
    assert done["publishDate"] == post["deliveries"][0]["publishDate"]  # woken, not rescheduled
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Cooldown lifted"]

    # A higher daily limit wakes them too (the limit counts the post above).
    await _patch(desk, channel.account_id, dailyPostLimit=1)
    second = await desk.post(soulId=channel.soul_id, content="Second of the day")
    await desk.until(second["id"], _waiting)
    await _patch(desk, channel.account_id, dailyPostLimit=2)
    assert (await desk.settled(second["id"], within_s=20))["deliveries"][0]["state"] == "PUBLISHED"


async def test_a_loosening_read_while_the_delivery_starts_waiting_still_wakes_it(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str, pproxy_http: PproxyServer
) -> None:
    """The publish activity records the delivery as waiting before its workflow hears the answer: a loosening that
    reads that record in between must not be refused (the delivery would sleep out the old window)."""
    api = await api_factory(**desk_settings(sandbox, task_queue))
    h = (await api.register())["headers"]
    workers = build_workers(temporal_client, api.container.settings, api.container.uow, api.container.documents)
    x_queue = platform_queue(Platform.X.value, api.container.settings.platform_queue_prefix)
    (x_worker,) = [w for w in workers if w.task_queue == x_queue]
    config = x_worker.config()
    held, release = asyncio.Event(), asyncio.Event()

    def held_after_waiting(real: Any) -> Any:
        @activity.defn(name="post_publish")
        async def publish(ref: DeliveryRef) -> PublishOutcome:
            outcome: PublishOutcome = await real(ref)
            if outcome.wait_until is not None and not release.is_set():  # recorded as waiting; the workflow waits
                held.set()
                await release.wait()
            return outcome

        return publish

    config["activities"] = [held_after_waiting(a) if a.__name__ == "publish" else a for a in config["activities"]]
    # Its own connection: a client registers one worker per task queue, and it has the real one already.
    config["client"] = await Client.connect(
        temporal_client.service_client.config.target_host,
        namespace=temporal_client.namespace,
        data_converter=temporal_client.data_converter,
    )
    workers[workers.index(x_worker)] = Worker(**config)
    async with contextlib.AsyncExitStack() as stack:
        for worker in workers:
            await stack.enter_async_context(worker)
        desk = Desk(api, h, sandbox, temporal_client)
        channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
        await _patch(desk, channel.account_id, cooldownUntil=_in(3600).isoformat())
        post = await desk.post(soulId=channel.soul_id, content="Loosened in the gap")
        await asyncio.wait_for(held.wait(), 20)
        assert _waiting(await desk.get(post["id"]))  # what the loosening reads
        await _patch(desk, channel.account_id, cooldownUntil=None)
        release.set()
        done = (await desk.settled(post["id"], within_s=20))["deliveries"][0]
    assert (done["state"], done["attempts"]) == ("PUBLISHED", 1)
    assert [p["text"] for p in desk.platform_posts(Platform.X)] == ["Loosened in the gap"]


async def test_a_cooldown_fails_a_post_when_the_organization_says_so(desk: Desk, pproxy_http: PproxyServer) -> None:
    await _policy(desk, "fail")
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    await _patch(desk, channel.account_id, cooldownUntil=_in(3600).isoformat())
    post = await desk.post(soulId=channel.soul_id, content="Too soon")
    failed = (await desk.settled(post["id"]))["deliveries"][0]
    assert (failed["state"], failed["errorCode"]) == ("FAILED", "RiskLimit")
    assert "is cooling down until" in failed["lastError"]
    assert "after an operator set it" in failed["lastError"]
    assert desk.platform_posts(Platform.X) == []


async def test_a_rate_limit_from_the_platform_warns_and_cools_the_account_down(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    channel = await desk.channel(Platform.X, proxy_id=await desk.proxy(pproxy_http))
    desk.sandbox.fault(Platform.X, "rate_limit", endpoint="/2/tweets", retry_after_s=3)
    post = await desk.post(soulId=channel.soul_id, content="After the 429")
    done = (await desk.settled(post["id"], within_s=30))["deliveries"][0]
    assert (done["state"], done["attempts"]) == ("PUBLISHED", 2)

    tweets = [r for r in desk.sandbox.requests(Platform.X) if r["path"].endswith("/2/tweets")]
    account = await _account(desk, channel.account_id)
    assert account["warningCount"] == 1
    assert account["cooldownReason"] == "the platform rate limited it"
    cooldown = datetime.fromisoformat(account["cooldownUntil"]).timestamp()
    assert tweets[0]["timestamp"] + 2.5 <= cooldown <= tweets[0]["timestamp"] + 4  # the platform's reset time
    assert tweets[1]["timestamp"] >= cooldown - 0.01  # the retry honoured the cooldown
    audited = await desk.api.http.get("/axon/audit-logs", params={"action": "account.cooldown"}, headers=desk.h)
    entries = audited.json()["items"]
    assert [(e["targetId"], e["actorType"], e["details"]["flag"], e["details"]["warningCount"]) for e in entries] == [
        (channel.account_id, "system", "rate_limit", 1)
    ]


async def test_a_spam_answer_warns_and_holds_the_account_for_a_day(desk: Desk, pproxy_http: PproxyServer) -> None:
    channel = await desk.channel(Platform.FACEBOOK, proxy_id=await desk.proxy(pproxy_http))
    spam = await desk.post(soulId=channel.soul_id, content=f"Buy now {SPAM_MARKER}")
    refused = (await desk.settled(spam["id"]))["deliveries"][0]
    assert (refused["state"], refused["errorCode"]) == ("FAILED", "InvalidContent")
    account = await _account(desk, channel.account_id)
    assert (account["warningCount"], account["cooldownReason"]) == (1, "the platform flagged it as spam")
    remaining = datetime.fromisoformat(account["cooldownUntil"]) - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < remaining <= timedelta(hours=24)

    # The next post of the account waits out the day (policy wait) instead of asking the platform again.
    before = len(desk.sandbox.requests(Platform.FACEBOOK))
    honest = await desk.post(soulId=channel.soul_id, content="An honest post")
    held = (await desk.until(honest["id"], _waiting))["deliveries"][0]
    assert "account cooling down" in held["hint"]
    assert len(desk.sandbox.requests(Platform.FACEBOOK)) == before
