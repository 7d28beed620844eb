"""Nothing stuck: the whole stack goes down with two posts waiting, one of them comes due while it is down, and after
`make run` starts again on the same data (the SQLite database and the Temporal dev server's file) both are published,
each exactly once: the late one right after the restart, the other at its time.

The platform (the sandbox) runs outside the stack here, as the real networks do: a social network does not forget
the channel's tokens or its posts when our stack restarts, while the sandbox `make run` starts keeps them in memory
only. So `SANDBOX_ENABLED=false` points the stack at a sandbox of the test's own, which also lets the test see that
nothing was published before the restart."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from temporalio.client import Client

from adapters.temporal.client import data_converter
from settings import Settings
from tests.e2e.stack_support import ROOT, api_url, pid_alive, sandbox_url, stack_env_for, start_stack
from tests.e2e.test_prd_flow import SANDBOX_HANDLE, ApiClient
from tests.support.net import serve_on_free_port

LOGIN = {"email": "owner@restart.example", "password": "restart correct horse battery"}
# B comes due this long after it is created: long enough for the stack to be down by then (checked below).
B_DUE_S = 10
# A comes due this long after it is created: after the restarted stack is ready, so its timer fires as planned.
A_DUE_S = 32


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[str]:
    """The sandbox as an outside platform: one process for the whole test, across the stack's restart."""
    with (tmp_path / "sandbox.log").open("ab") as log:
        proc, port = serve_on_free_port(
            lambda port: subprocess.Popen(
                [sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        )
        try:
            yield str(port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


def _until(what: str, check: Callable[[], Any], within_s: float = 20, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {within_s}s"
        time.sleep(every_s)


def _browser_approves(authorize_url: str) -> dict[str, str]:
    with httpx.Client(timeout=5, trust_env=False) as browser:
        response = browser.get(authorize_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def _run_ids(settings: Settings, workflow_ids: list[str]) -> list[str | None]:
    async def describe() -> list[str | None]:
        client = await Client.connect(settings.temporal_address, data_converter=data_converter(settings))
        return [(await client.get_workflow_handle(w).describe()).run_id for w in workflow_ids]

    return asyncio.run(describe())


def _log_in(api: ApiClient) -> None:
    api.headers = {"Authorization": f"Bearer {api.call('POST', '/auth/login', json=LOGIN)['accessToken']}"}


def _set_up_channel(api: ApiClient) -> tuple[str, str]:
    """An organization publishing directly (no proxy), a Soul, an X Account, its connected channel: (soul, channel)."""
    api.call("POST", "/auth/register", 201, json={**LOGIN, "name": "Owner", "organizationName": "Restart Inc"})
    _log_in(api)
    api.call("PATCH", "/axon/organization/settings", json={"allowDirectPublishing": True})
    soul = api.call("POST", "/axon/souls", 201, json={"name": "Restart Brand"})
    account = api.call(
        "POST",
        "/axon/accounts",
        201,
        json={"soulId": soul["id"], "platform": "x", "handle": f"@{SANDBOX_HANDLE}", "status": "active"},
    )
    start = api.call("GET", "/integrations/social/x")
    channel = api.call("POST", "/integrations/social/x/connect", json=_browser_approves(start["url"]))
    _until("auto-link maps the channel", lambda: api.call("GET", f"/axon/accounts/{account['id']}")["integrationId"])
    return soul["id"], channel["id"]


def test_posts_waiting_or_due_while_the_stack_is_down_are_published_once_after_restart(
    tmp_path: Path, platform: str, request: pytest.FixtureRequest
) -> None:
    env = stack_env_for(tmp_path / "data", SANDBOX_ENABLED="false", SANDBOX_PORT=platform)
    sandbox = httpx.Client(base_url=sandbox_url(env), timeout=5, trust_env=False)
    request.addfinalizer(sandbox.close)

    def held_posts() -> list[dict[str, Any]]:
        posts: list[dict[str, Any]] = sandbox.get("/_sandbox/posts", params={"platform": "x"}).json()["posts"]
        return posts

    first, _ = start_stack(env, tmp_path / "run1.log")
    settings = Settings(temporal_address=env["TEMPORAL_ADDRESS"])
    try:
        with httpx.Client(base_url=api_url(env), timeout=15, trust_env=False) as http:
            api = ApiClient(http)
            soul_id, channel_id = _set_up_channel(api)
            now = datetime.now(UTC).replace(microsecond=0)
            due = {"A": now + timedelta(seconds=A_DUE_S), "B": now + timedelta(seconds=B_DUE_S)}
            posts = {
                name: api.call(
                    "POST",
                    "/axon/posts",
                    201,
                    json={
                        "soulId": soul_id,
                        "content": f"Post {name}: kept across a restart.",
                        "publishDate": d.isoformat(),
                    },
                )
                for name, d in due.items()
            }
        workflow_ids = [f"post:{posts[name]['id']}:{channel_id}" for name in ("A", "B")]
        runs_before = _run_ids(settings, workflow_ids)
    finally:
        assert first.stop(signal.SIGTERM) == 0
    down_at = datetime.now(UTC)
    assert not [pid for pid in first.child_pids() if pid_alive(pid)], "every process of the stack has stopped"
    assert len(first.child_pids()) == 3  # temporal, worker, api: the platform is not the stack's
    assert down_at < due["B"], f"the stack took until {down_at} to stop: B ({due['B']}) was not due while it was down"
    assert held_posts() == [], "nothing was published before the stack went down"

    # B comes due while nothing of the stack runs.
    time.sleep(max(0.0, (due["B"] - datetime.now(UTC)).total_seconds()) + 1)
    assert held_posts() == []

    restarted_at = datetime.now(UTC)
    second, _ = start_stack(env, tmp_path / "run2.log")
    settings = Settings(temporal_address=env["TEMPORAL_ADDRESS"])
    try:
        ready_at = datetime.now(UTC)
        with httpx.Client(base_url=api_url(env), timeout=15, trust_env=False) as http:
            api = ApiClient(http)
            _log_in(api)

            def settled() -> dict[str, Any] | None:
                now = {name: api.call("GET", f"/axon/posts/{p['id']}") for name, p in posts.items()}
                return now if all(p["state"] not in ("QUEUE", "PUBLISHING") for p in now.values()) else None

            final = _until("both posts settle", settled, within_s=A_DUE_S + 30, every_s=0.5)
        runs_after = _run_ids(settings, workflow_ids)
    finally:
        assert second.stop(signal.SIGTERM) == 0
    assert not [pid for pid in second.child_pids() if pid_alive(pid)]

    deliveries = {name: post["deliveries"] for name, post in final.items()}
    assert {name: [(d["state"], d["attempts"], d["lastError"]) for d in ds] for name, ds in deliveries.items()} == {
        "A": [("PUBLISHED", 1, None)],
        "B": [("PUBLISHED", 1, None)],
    }
    held = held_posts()
    assert sorted(p["text"] for p in held) == [posts["A"]["content"], posts["B"]["content"]], "one post per delivery"
    by_text = {p["text"]: p for p in held}
    for name in ("A", "B"):
        delivery = deliveries[name][0]
        platform_post = by_text[posts[name]["content"]]
        assert delivery["externalId"] == platform_post["id"]
        assert datetime.fromtimestamp(platform_post["created_at"], UTC) >= restarted_at, (
            f"{name} went out after restart"
        )
        assert datetime.fromisoformat(delivery["publishedAt"]) >= due[name]
    publish_requests = [
        (r["status"], datetime.fromtimestamp(r["timestamp"], UTC) >= restarted_at)
        for r in sandbox.get("/_sandbox/requests", params={"platform": "x"}).json()["requests"]
        if r["endpoint"] == "create_tweet"
    ]
    assert publish_requests == [(201, True), (201, True)], "one publish request per post, both after the restart"
    # B is late by the time the stack was down, no more: its timer, kept in Temporal's file, fired as soon as the
    # restarted worker polled (the reconciler runs only every minute); the same workflow run published it.
    b_published = datetime.fromisoformat(deliveries["B"][0]["publishedAt"])
    assert restarted_at <= b_published <= ready_at + timedelta(seconds=10)
    assert runs_after == runs_before
