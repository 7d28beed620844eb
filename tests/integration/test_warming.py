"""Account warming on real Temporal Schedules: the API starts, pauses and resumes `warming:{accountId}`; a triggered
run performs the day's quota on the platform sandbox through the account's real pproxy proxy (the sandbox's peer log
proves it) and records progress; a suspended account, an operator, a failed proxy and a revoked channel pause it with
a note saying why; risk limits hold a day (a cooldown, the daily post limit) and a platform's 429 warns the account and
cools it down as publishing does; the last ramp day makes the account active and removes the schedule; Mastodon warms
through a real SOCKS5 proxy. The workers run as worker.py builds them, with the active hours compressed into a few
seconds (`warming_day_s`). SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.client import Client, ScheduleActionExecutionStartWorkflow, ScheduleHandle, ScheduleOverlapPolicy
from temporalio.service import RPCError

from adapters.platforms.registry import platform_connectors
from adapters.sql.channels import INTEGRATION
from domain.identity.platforms import Platform
from tests.conftest import ApiFactory
from tests.integration.peer_watch import watching
from tests.integration.publishing_desk import Desk, desk_settings, running_workers
from tests.platforms.conftest import BLUESKY_APP_PASSWORD, BLUESKY_HANDLE, Sandbox, browser_step
from tests.platforms.conftest import sandbox as _sandbox_server
from tests.support.proxies import PproxyServer
from workflows import search_attributes

sandbox_server = _sandbox_server

DAY_S = 3.0
# Three actions a day on day 1, rising to five by day 3; views, likes and follows only (X allows all three).
PLAN: dict[str, Any] = {
    "startActionsPerDay": 3,
    "targetActionsPerDay": 5,
    "rampDays": 3,
    "mix": {"view": 1, "like": 1, "follow": 1, "reply": 0, "post": 0},
    "activeHours": {"start": "07:30", "end": "19:00"},
    "jitterMinutes": 0,
}


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Sandbox:
    sandbox_server.reset()
    return sandbox_server


@pytest.fixture
async def desk(
    api_factory: ApiFactory, sandbox: Sandbox, temporal_client: Client, task_queue: str
) -> AsyncIterator[Desk]:
    rates = {p.value: 50.0 for p in Platform}
    api = await api_factory(
        **desk_settings(sandbox, task_queue), frontend_url="http://localhost:3000", platform_rate_per_s=rates,
        warming_day_s=DAY_S,
    )  # fmt: skip
    h = (await api.register())["headers"]
    async with running_workers(api, temporal_client):
        yield Desk(api, h, sandbox, temporal_client)


def schedule(desk: Desk, account_id: str) -> ScheduleHandle:
    return desk.client.get_schedule_handle(f"warming:{account_id}")


async def warming(desk: Desk, account_id: str, verb: str | None = None, **body: Any) -> dict[str, Any]:
    path = f"/axon/accounts/{account_id}/warming"
    if verb is None:
        response = await desk.api.http.get(path, headers=desk.h)
    else:
        response = await desk.api.http.post(f"{path}/{verb}", json=body or None, headers=desk.h)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def run_once(desk: Desk, account_id: str, within_s: float = 30) -> dict[str, Any]:
    """Trigger the schedule (as an operator would in the Temporal UI) and wait for the day's run to finish."""
    handle = schedule(desk, account_id)
    before = len((await handle.describe()).info.recent_actions)
    await handle.trigger()
    async with asyncio.timeout(within_s):
        while True:
            recent = (await handle.describe()).info.recent_actions
            if len(recent) > before:
                break
            await asyncio.sleep(0.2)
    run = recent[-1].action
    assert isinstance(run, ScheduleActionExecutionStartWorkflow)
    result: dict[str, Any] = await desk.client.get_workflow_handle(
        run.workflow_id, run_id=run.first_execution_run_id
    ).result()
    return result


async def warm_account(desk: Desk, proxy: PproxyServer | None = None, *, port: int | None = None) -> str:
    proxy_id = await desk.proxy(proxy, port=port)
    channel = await desk.channel(Platform.X, proxy_id=proxy_id)
    persona = await desk.api.http.post(
        "/axon/personas", json={"name": "Maya", "timezone": "Asia/Manila", "contentThemes": ["coffee"]}, headers=desk.h
    )
    assert persona.status_code == 201, persona.text
    soul = await desk.api.http.patch(
        f"/axon/souls/{channel.soul_id}", json={"personaId": persona.json()["id"]}, headers=desk.h
    )
    assert soul.status_code == 200, soul.text
    return channel.account_id


async def test_start_creates_the_schedule_and_a_run_does_the_days_quota_through_the_proxy(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    account_id = await warm_account(desk, pproxy_http)
    started = await warming(desk, account_id, "start", **PLAN)
    assert (started["status"], started["day"], started["quotaToday"], started["doneToday"]) == ("warming", 1, 3, 0)
    assert (started["scheduled"], started["paused"], started["timezone"]) == (True, False, "Asia/Manila")
    assert started["nextRunAt"] is not None

    described = await schedule(desk, account_id).describe()
    spec = described.schedule.spec
    assert spec.time_zone_name == "Asia/Manila"
    [calendar] = spec.calendars
    assert ([r.start for r in calendar.hour], [r.start for r in calendar.minute]) == ([7], [30])
    assert described.info.next_action_times[0].astimezone(UTC).strftime("%H:%M") == "23:30"  # 07:30 in Manila
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert described.schedule.policy.catchup_window == timedelta(minutes=1)
    action = described.schedule.action
    assert action.typed_search_attributes.get(search_attributes.ACCOUNT_ID) == account_id  # type: ignore[attr-defined]
    assert described.typed_search_attributes.get(search_attributes.ACCOUNT_ID) == account_id

    async with watching(desk.sandbox, Platform.X, pproxy_http.pid) as watch:
        result = await run_once(desk, account_id)
        served = watch.served()
        unproven = watch.unproven(pproxy_http.pid)
    assert (result["day"], result["quota"], result["done"], result["stopped"]) == (1, 3, 3, None)
    # Each action read the home timeline first; like and follow then wrote; all through the proxy.
    endpoints = [r["endpoint"] for r in served]
    assert endpoints.count("home_timeline") == 3
    assert sorted(e for e in endpoints if e in ("like", "follow")) == ["follow", "like"]
    assert unproven == []
    with desk.sandbox.control() as c:
        engaged = c.get("/_sandbox/engagements", params={"platform": "x"}).json()["engagements"]
    assert sorted(e["action"] for e in engaged) == ["follow", "like"]

    after = await warming(desk, account_id)
    assert (after["doneToday"], after["progress"]["totalDone"]) == (3, 3)
    assert after["progress"]["actions"] == {"view": 1, "like": 1, "follow": 1}
    account = (await desk.api.http.get(f"/axon/accounts/{account_id}", headers=desk.h)).json()
    assert account["metrics"]["warming"]["doneToday"] == 3
    # Triggered again the same day: the quota is done, nothing more happens.
    again = await run_once(desk, account_id)
    assert (again["done"], again["attempted"]) == (0, 0)


async def test_suspension_operator_pause_and_resume(desk: Desk, pproxy_http: PproxyServer) -> None:
    account_id = await warm_account(desk, pproxy_http)
    await warming(desk, account_id, "start", **PLAN)

    suspended = await desk.api.http.patch(f"/axon/accounts/{account_id}", json={"status": "suspended"}, headers=desk.h)
    assert suspended.status_code == 200, suspended.text
    state = (await schedule(desk, account_id).describe()).schedule.state
    assert (state.paused, state.note) == (True, "account suspended")
    view = await warming(desk, account_id)
    assert (view["paused"], view["note"], view["status"]) == (True, "account suspended", "suspended")
    refused = await desk.api.http.post(f"/axon/accounts/{account_id}/warming/resume", headers=desk.h)
    assert (refused.status_code, refused.json()["code"]) == (409, "not_warming")

    back = await desk.api.http.patch(f"/axon/accounts/{account_id}", json={"status": "warming"}, headers=desk.h)
    assert back.status_code == 200, back.text
    assert (await schedule(desk, account_id).describe()).schedule.state.paused is False

    paused = await warming(desk, account_id, "pause", reason="holiday week")
    assert paused["paused"] is True
    assert paused["note"].endswith("holiday week")
    resumed = await warming(desk, account_id, "resume")
    assert resumed["paused"] is False
    assert "resumed" in (resumed["note"] or "")

    # Set back to active by hand: warming is over, the schedule goes.
    active = await desk.api.http.patch(f"/axon/accounts/{account_id}", json={"status": "active"}, headers=desk.h)
    assert active.status_code == 200, active.text
    with pytest.raises(RPCError):
        await schedule(desk, account_id).describe()


async def test_a_failed_proxy_pauses_warming_and_its_run_does_nothing(desk: Desk, refusing_port: int) -> None:
    account_id = await warm_account(desk, port=refusing_port)
    account = (await desk.api.http.get(f"/axon/accounts/{account_id}", headers=desk.h)).json()
    await warming(desk, account_id, "start", **PLAN)
    for _ in range(2):  # PROXY_FAILURES_TO_FAIL (2) failed tests make the proxy failed
        tested = await desk.api.http.post(f"/axon/proxies/{account['proxyId']}/test", headers=desk.h)
        assert tested.status_code == 200, tested.text
    assert tested.json()["proxy"]["healthStatus"] == "failed"
    state = (await schedule(desk, account_id).describe()).schedule.state
    assert state.paused is True
    assert (state.note or "").startswith("proxy failed")
    # An operator triggering the paused schedule anyway: the run refuses to act without a working proxy.
    before = len(desk.sandbox.requests(Platform.X))
    result = await run_once(desk, account_id)
    assert result["attempted"] == 0
    assert "proxy failed" in result["stopped"]
    assert len(desk.sandbox.requests(Platform.X)) == before
    refused = await desk.api.http.post(f"/axon/accounts/{account_id}/warming/resume", headers=desk.h)
    assert (refused.status_code, refused.json()["code"]) == (409, "proxy_failed")


async def test_the_last_ramp_day_makes_the_account_active_and_removes_the_schedule(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    account_id = await warm_account(desk, pproxy_http)
    # Started two days ago (in Manila): today is day 3 of 3, the target's five actions.
    started_at = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    view = await warming(desk, account_id, "start", **{**PLAN, "startedAt": started_at})
    assert (view["day"], view["quotaToday"]) == (3, 5)
    result = await run_once(desk, account_id, within_s=40)
    assert (result["day"], result["done"], result["finished"]) == (3, 5, True)
    account = (await desk.api.http.get(f"/axon/accounts/{account_id}", headers=desk.h)).json()
    assert account["status"] == "active"
    assert "finishedAt" in account["metrics"]["warming"]
    with pytest.raises(RPCError):
        await schedule(desk, account_id).describe()
    done = await warming(desk, account_id)
    assert (done["scheduled"], done["done"]) == (False, True)


async def test_another_organizations_account_is_404_and_bad_plans_are_422(desk: Desk) -> None:
    soul = (await desk.api.http.post("/axon/souls", json={"name": "Quiet"}, headers=desk.h)).json()
    created = await desk.api.http.post(
        "/axon/accounts", json={"soulId": soul["id"], "platform": "x", "handle": "quietone"}, headers=desk.h
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]

    other = (await desk.api.register(org="Other"))["headers"]
    for method, verb in (("GET", ""), ("POST", "/start"), ("POST", "/pause"), ("POST", "/resume")):
        response = await desk.api.http.request(method, f"/axon/accounts/{account_id}/warming{verb}", headers=other)
        assert response.status_code == 404, (verb, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

    for bad, field in (
        ({"rampDays": 0}, "warmingConfig.rampDays"),
        ({"mix": {"like": -1}}, "warmingConfig.mix.like"),
        ({"activeHours": {"start": "9 o'clock", "end": "17:00"}}, "warmingConfig.activeHours.start"),
        ({"targetActionsPerDay": "lots"}, "warmingConfig.targetActionsPerDay"),
    ):
        response = await desk.api.http.post(f"/axon/accounts/{account_id}/warming/start", json=bad, headers=desk.h)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    put = await desk.api.http.patch(
        f"/axon/accounts/{account_id}", json={"warmingConfig": {"jitterMinutes": -5}}, headers=desk.h
    )
    assert put.status_code == 422, put.text
    # Nothing was started by the refused requests.
    with pytest.raises(RPCError):
        await schedule(desk, account_id).describe()
    assert (await desk.api.http.get(f"/axon/accounts/{account_id}", headers=desk.h)).json()["status"] == "active"

    # Instagram publishes media only and allows no engagement through its API: nothing to warm with.
    insta = await desk.api.http.post(
        "/axon/accounts", json={"soulId": soul["id"], "platform": "instagram", "handle": "quiet.one"}, headers=desk.h
    )
    response = await desk.api.http.post(f"/axon/accounts/{insta.json()['id']}/warming/start", headers=desk.h)
    assert (response.status_code, response.json()["code"]) == (422, "warming_unsupported")


async def _account(desk: Desk, account_id: str) -> dict[str, Any]:
    response = await desk.api.http.get(f"/axon/accounts/{account_id}", headers=desk.h)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def _patch(desk: Desk, account_id: str, **body: Any) -> None:
    response = await desk.api.http.patch(f"/axon/accounts/{account_id}", json=body, headers=desk.h)
    assert response.status_code == 200, response.text


async def test_a_cooldown_holds_the_day_and_the_progress_says_why(desk: Desk, pproxy_http: PproxyServer) -> None:
    account_id = await warm_account(desk, pproxy_http)
    await warming(desk, account_id, "start", **PLAN)
    until = datetime.now(UTC) + timedelta(hours=2)
    await _patch(desk, account_id, cooldownUntil=until.isoformat())
    before = len(desk.sandbox.requests(Platform.X))
    result = await run_once(desk, account_id)
    assert (result["attempted"], result["done"]) == (0, 0)
    assert "is cooling down until" in result["stopped"]
    assert "after an operator set it" in result["stopped"]
    assert len(desk.sandbox.requests(Platform.X)) == before  # not even the timeline was read
    progress = (await warming(desk, account_id))["progress"]
    assert progress["stoppedReason"] == result["stopped"]
    assert abs(datetime.fromisoformat(progress["stoppedUntil"]) - until) < timedelta(seconds=1)
    # A hold is no pause: tomorrow's run checks the limits again.
    assert (await schedule(desk, account_id).describe()).schedule.state.paused is False

    # The cooldown over, the next run goes ahead and clears the reason.
    await _patch(desk, account_id, cooldownUntil=None)
    again = await run_once(desk, account_id)
    assert (again["done"], again["stopped"]) == (3, None)
    assert "stoppedReason" not in (await warming(desk, account_id))["progress"]


async def test_the_daily_post_limit_counts_warming_posts_and_stops_the_day(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    account_id = await warm_account(desk, pproxy_http)
    await _patch(desk, account_id, dailyPostLimit=1)
    await warming(desk, account_id, "start", **{**PLAN, "mix": {"view": 0, "like": 0, "follow": 0, "reply": 0,
                                                                "post": 1}})  # fmt: skip
    result = await run_once(desk, account_id)
    # Three posts planned: the first is the day's one post, the second is held by the limit.
    assert (result["quota"], result["done"], result["attempted"]) == (3, 1, 2)
    assert "reached its daily limit of 1 post" in result["stopped"]
    assert len(desk.platform_posts(Platform.X)) == 1
    progress = (await warming(desk, account_id))["progress"]
    assert (progress["postsToday"], progress["doneToday"]) == (1, 1)
    assert progress["stoppedReason"] == result["stopped"]


async def test_a_rate_limit_while_warming_warns_and_cools_the_account_down(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    account_id = await warm_account(desk, pproxy_http)
    # Likes only: the first like meets the platform's 429.
    await warming(desk, account_id, "start", **{**PLAN, "mix": {"view": 0, "like": 1, "follow": 0, "reply": 0,
                                                                "post": 0}})  # fmt: skip
    desk.sandbox.fault(Platform.X, "rate_limit", endpoint="like", retry_after_s=120)
    result = await run_once(desk, account_id)
    assert (result["attempted"], result["done"]) == (1, 0)
    assert "after the platform rate limited it" in result["stopped"]
    likes = [r for r in desk.sandbox.requests(Platform.X) if r["endpoint"] == "like"]
    assert [r["status"] for r in likes] == [429]  # one like asked, none after it

    account = await _account(desk, account_id)
    assert (account["warningCount"], account["cooldownReason"]) == (1, "the platform rate limited it")
    cooldown = datetime.fromisoformat(account["cooldownUntil"]).timestamp()
    assert likes[0]["timestamp"] + 115 <= cooldown <= likes[0]["timestamp"] + 125  # the platform's reset time
    assert (await warming(desk, account_id))["progress"]["stoppedReason"] == result["stopped"]
    audited = await desk.api.http.get("/axon/audit-logs", params={"action": "account.cooldown"}, headers=desk.h)
    [entry] = audited.json()["items"]
    assert (entry["targetId"], entry["actorType"]) == (account_id, "system")
    assert (entry["details"]["flag"], entry["details"]["warningCount"], entry["details"]["warmingAction"]) == (
        "rate_limit", 1, "like"
    )  # fmt: skip

    # The next run is held by the cooldown before it asks the platform anything.
    before = len(desk.sandbox.requests(Platform.X))
    held = await run_once(desk, account_id)
    assert held["attempted"] == 0
    assert len(desk.sandbox.requests(Platform.X)) == before


async def test_a_grant_revoked_during_a_token_refresh_pauses_warming(desk: Desk, pproxy_http: PproxyServer) -> None:
    account_id = await warm_account(desk, pproxy_http)
    await warming(desk, account_id, "start", **PLAN)
    integration_id = (await _account(desk, account_id))["integrationId"]
    async with desk.api.container.engine.connect() as conn:
        sealed = (
            await conn.execute(select(INTEGRATION.c.token).where(INTEGRATION.c.id == integration_id))
        ).scalar_one()
    token = desk.api.container.cipher.decrypt_str(sealed, record=f"integrations/{integration_id}", field="token")
    # The user removes the app at X: the whole grant goes, refresh token included.
    await platform_connectors(desk.api.container.settings)[Platform.X].revoke(token=token, proxy=None)
    assert (await desk.api.http.post(f"/integrations/{integration_id}/refresh", headers=desk.h)).status_code == 202

    async with asyncio.timeout(30):
        while True:
            state = (await schedule(desk, account_id).describe()).schedule.state
            if state.paused:
                break
            await asyncio.sleep(0.2)
    assert state.note == "channel needs reconnecting"
    listed = (await desk.api.http.get("/integrations/list", headers=desk.h)).json()
    assert [i["refreshNeeded"] for i in listed if i["id"] == integration_id] == [True]
    view = await warming(desk, account_id)
    assert (view["paused"], view["note"]) == (True, "channel needs reconnecting")


EVERY_ACTION = {"view": 1, "like": 1, "follow": 1, "reply": 1, "post": 1}


async def _every_action_once(
    desk: Desk, account_id: str, platform: Platform, proxy: PproxyServer
) -> tuple[list[str], list[tuple[str, int | None]]]:
    """Start a day of five actions, one of each, and run it: the endpoints the platform served, and the requests the
    peer log could not trace to the proxy's process."""
    started = await warming(desk, account_id, "start", **{**PLAN, "startActionsPerDay": 5, "mix": EVERY_ACTION})
    assert started["allowedActions"] == ["follow", "like", "post", "reply", "view"]
    async with watching(desk.sandbox, platform, proxy.pid) as watch:
        result = await run_once(desk, account_id)
        served = watch.served()
        unproven = watch.unproven(proxy.pid)
    assert (result["quota"], result["done"], result["stopped"]) == (5, 5, None)
    return [r["endpoint"] for r in served], unproven


async def test_a_mastodon_account_warms_through_a_socks5_proxy(desk: Desk, pproxy_socks5: PproxyServer) -> None:
    http, h = desk.api.http, desk.h
    proxy_id = await desk.proxy(pproxy_socks5)
    soul = (await http.post("/axon/souls", json={"name": "Toots"}, headers=h)).json()
    body = {"soulId": soul["id"], "platform": "mastodon", "handle": "brand@mastodon.example", "proxyId": proxy_id}
    account = await http.post("/axon/accounts", json=body, headers=h)
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]
    params = {"accountId": account_id, "instance": f"{desk.sandbox.url}/mastodon"}
    start = await http.get("/integrations/social/mastodon", params=params, headers=h)
    assert start.status_code == 200, start.text
    connected = await http.post("/integrations/social/mastodon/connect", json=browser_step(start.json()["url"]),
                                headers=h)  # fmt: skip
    assert connected.status_code == 200, connected.text
    integration_id = connected.json()["id"]
    await desk.autolink_done(integration_id)
    linked = await http.patch(f"/axon/accounts/{account_id}/integration", json={"integrationId": integration_id},
                              headers=h)  # fmt: skip
    assert linked.status_code == 200, linked.text

    # Day 1 of five actions, one of each: view, like (favourite), follow, reply, and a post through the publisher.
    endpoints, unproven = await _every_action_once(desk, account_id, Platform.MASTODON, pproxy_socks5)
    assert endpoints.count("home_timeline") == 4  # every action but the post reads the timeline first
    assert sorted(e for e in endpoints if e in ("favourite", "follow", "create_status")) == [
        "create_status", "create_status", "favourite", "follow"
    ]  # fmt: skip
    assert unproven == []
    with desk.sandbox.control() as c:
        engaged = c.get("/_sandbox/engagements", params={"platform": "mastodon"}).json()["engagements"]
    assert sorted(e["action"] for e in engaged) == ["follow", "like"]
    assert len(desk.platform_posts(Platform.MASTODON)) == 2  # the reply and the post
    progress = (await warming(desk, account_id))["progress"]
    assert progress["actions"] == {"view": 1, "like": 1, "follow": 1, "reply": 1, "post": 1}


async def _wait_paused(desk: Desk, account_id: str, paused: bool = True, within_s: float = 30) -> str | None:
    async with asyncio.timeout(within_s):
        while True:
            state = (await schedule(desk, account_id).describe()).schedule.state
            if state.paused == paused:
                return state.note
            await asyncio.sleep(0.2)


async def test_a_bluesky_account_warms_through_the_proxy_and_a_reconnect_resumes_what_a_revoked_grant_paused(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    http, h = desk.api.http, desk.h
    proxy_id = await desk.proxy(pproxy_http)
    soul = (await http.post("/axon/souls", json={"name": "Sky"}, headers=h)).json()
    body = {"soulId": soul["id"], "platform": "bluesky", "handle": BLUESKY_HANDLE, "proxyId": proxy_id}
    account = await http.post("/axon/accounts", json=body, headers=h)
    assert account.status_code == 201, account.text
    account_id = account.json()["id"]

    async def connect() -> str:
        login = {"identifier": BLUESKY_HANDLE, "appPassword": desk.api.secret(BLUESKY_APP_PASSWORD),
                 "accountId": account_id}  # fmt: skip
        connected = await http.post("/integrations/social/bluesky/connect", json=login, headers=h)
        assert connected.status_code == 200, connected.text
        integration_id: str = connected.json()["id"]
        await desk.autolink_done(integration_id)
        return integration_id

    integration_id = await connect()
    assert (await _account(desk, account_id))["integrationId"] == integration_id  # auto-linked by handle

    # Day 1 of five actions, one of each; the post goes through the Bluesky publisher (a post record).
    endpoints, unproven = await _every_action_once(desk, account_id, Platform.BLUESKY, pproxy_http)
    assert endpoints.count("get_timeline") == 4  # every action but the post reads the timeline first
    assert endpoints.count("create_record") == 4  # the like, the follow, the reply and the post
    assert unproven == []
    with desk.sandbox.control() as c:
        engaged = c.get("/_sandbox/engagements", params={"platform": "bluesky"}).json()["engagements"]
    assert sorted(e["action"] for e in engaged) == ["follow", "like"]
    assert len(desk.platform_posts(Platform.BLUESKY)) == 2  # the reply and the post

    # The user revokes the app password at Bluesky: the next action meets it. The channel needs reconnecting
    # (as the matrix and the integrations list show), the warming pauses with the reason, the day stops.
    desk.sandbox.fault(Platform.BLUESKY, "revoke_token", endpoint="*")  # whichever action comes first
    await _patch(desk, account_id, warmingConfig={**PLAN, "startActionsPerDay": 7, "mix": EVERY_ACTION})
    stopped = await run_once(desk, account_id)
    assert "AuthRevoked" in (stopped["stopped"] or ""), stopped
    assert await _wait_paused(desk, account_id) == "channel needs reconnecting"
    listed = (await http.get("/integrations/list", headers=h)).json()
    assert [i["refreshNeeded"] for i in listed if i["id"] == integration_id] == [True]
    audit_log = (await http.get("/axon/audit-logs", params={"action": "integration.refresh_needed"}, headers=h)).json()
    assert [e["details"]["reason"] for e in audit_log["items"]] == ["revoked while warming"]

    # Reconnecting the same Bluesky account clears the flag, and the warming it paused resumes by itself.
    assert await connect() == integration_id
    assert await _wait_paused(desk, account_id, paused=False) == "channel connected"
    resumed = await run_once(desk, account_id)
    assert (resumed["done"], resumed["stopped"]) == (2, None)  # the rest of today's seven


async def test_an_operator_pause_is_never_taken_over_by_a_system_pause_nor_resumed_by_a_reconnect(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    account_id = await warm_account(desk, pproxy_http)
    await warming(desk, account_id, "start", **PLAN)
    await warming(desk, account_id, "pause", reason="holiday")
    integration_id = (await _account(desk, account_id))["integrationId"]
    holiday_note = (await warming(desk, account_id))["note"]
    assert holiday_note.startswith("paused by ")
    assert holiday_note.endswith(": holiday")
    # Unlinking the channel would pause it; the operator's note stays.
    unlinked = await desk.api.http.patch(f"/axon/accounts/{account_id}/integration", json={"integrationId": None},
                                         headers=desk.h)  # fmt: skip
    assert unlinked.status_code == 200, unlinked.text
    assert (await warming(desk, account_id))["note"] == holiday_note
    linked = await desk.api.http.patch(f"/axon/accounts/{account_id}/integration",
                                       json={"integrationId": integration_id}, headers=desk.h)  # fmt: skip
    assert linked.status_code == 200, linked.text
    view = await warming(desk, account_id)
    assert (view["paused"], view["note"]) == (True, holiday_note)


async def test_unlinking_the_channel_pauses_warming_and_linking_it_again_resumes(
    desk: Desk, pproxy_http: PproxyServer
) -> None:
    account_id = await warm_account(desk, pproxy_http)
    await warming(desk, account_id, "start", **PLAN)
    integration_id = (await _account(desk, account_id))["integrationId"]
    path = f"/axon/accounts/{account_id}/integration"
    assert (await desk.api.http.patch(path, json={"integrationId": None}, headers=desk.h)).status_code == 200
    view = await warming(desk, account_id)
    assert (view["paused"], view["note"]) == (True, "the account has no connected channel")
    assert (await desk.api.http.patch(path, json={"integrationId": integration_id}, headers=desk.h)).status_code == 200
    view = await warming(desk, account_id)
    assert (view["paused"], view["note"]) == (False, "channel linked")
