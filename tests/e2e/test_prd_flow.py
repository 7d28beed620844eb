"""The PRD's setup flow and posting flow, through the REST API alone, on the stack as `make run` starts it.

Setup: register, Persona, Soul, Proxy (tested), Account on X with credentials and the proxy, connect the X channel over
OAuth (the test follows the sandbox's authorize redirect as a browser would; the sandbox approves its test user),
auto-link (account.integrationId, mapping with accountId). Posting: a post for the Soul with no channel named goes to
every mapped channel; at its time the worker publishes it through the Account's proxy.

The only things done outside the API are the browser's redirect, looking at what the platform (the sandbox) holds, and
slowing its publish endpoint by a second so the test can see which process holds the connection while it is open."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.stack_support import RunningStack, api_url, pid_alive, sandbox_url, stack_env_for, start_stack
from tests.support.proxies import CheckServer, PproxyServer, socket_owner_pid

# The handle of the user the sandbox approves on X: an Account with this handle is the one auto-link must find.
SANDBOX_HANDLE = "sandboxbrand"

USER_PASSWORD = "e2e correct horse battery staple"
ACCOUNT_CREDENTIALS: dict[str, Any] = {
    "username": "techbrand-login-7731",
    "password": "Tw1tter pass for the e2e flow!",
    "twoFactorSecret": "JBSWY3DPEHPK3PXPJBSWY3DP",
    "apiKey": "e2e-api-key-5f0c2a91",
    "apiSecret": "e2e-api-secret-0b7e44d3",
    "backupCodes": ["backup-1122-3344", "backup-5566-7788"],
}


@dataclass
class ApiClient:
    """The API as a frontend uses it, keeping every answer (status, headers, body) to look for echoed secrets."""

    http: httpx.Client
    answers: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = self.http.request(method, path, headers=self.headers, **kwargs)
        self.answers.append((f"{method} {path}", f"{response.headers}\n{response.text}"))
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None


@dataclass
class PrdStack:
    api: ApiClient
    sandbox: httpx.Client
    sandbox_port: int
    proxy: PproxyServer
    check: CheckServer
    stack: RunningStack
    data_dir: Path


@pytest.fixture
def prd_stack(tmp_path: Path, pproxy_http: PproxyServer, proxy_check_server: CheckServer) -> Iterator[PrdStack]:
    # The proxy test fetches the IP-echo server through the proxy: the stack must not reach the internet.
    env = stack_env_for(tmp_path / "data", PROXY_CHECK_URL=proxy_check_server.url())
    stack, _ = start_stack(env, tmp_path / "stack.log")
    try:
        with (
            httpx.Client(base_url=api_url(env), timeout=15, trust_env=False) as api,
            httpx.Client(base_url=sandbox_url(env), timeout=5, trust_env=False) as sandbox,
        ):
            yield PrdStack(
                ApiClient(api), sandbox, int(env["SANDBOX_PORT"]), pproxy_http, proxy_check_server, stack, tmp_path
            )
    finally:
        code = stack.stop()
    assert code == 0
    assert not [pid for pid in stack.child_pids() if pid_alive(pid)]


def _until(what: str, check: Callable[[], Any], within_s: float = 20, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not within {within_s}s"
        time.sleep(every_s)


def _browser_approves(authorize_url: str) -> dict[str, str]:
    """The user's browser opens the platform's authorize page; the sandbox approves and redirects to the frontend."""
    with httpx.Client(timeout=5, trust_env=False) as browser:
        response = browser.get(authorize_url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def test_the_prd_setup_and_posting_flows_through_the_rest_api(prd_stack: PrdStack) -> None:
    api, proxy = prd_stack.api, prd_stack.proxy

    # --- setup ------------------------------------------------------------------------------------------------
    api.call(
        "POST",
        "/auth/register",
        201,
        json={
            "email": "owner@techbrand.example",
            "password": USER_PASSWORD,
            "name": "Owner",
            "organizationName": "TechBrand Inc",
        },
    )
    tokens = api.call("POST", "/auth/login", json={"email": "owner@techbrand.example", "password": USER_PASSWORD})
    api.headers = {"Authorization": f"Bearer {tokens['accessToken']}"}

    persona = api.call(
        "POST",
        "/axon/personas",
        201,
        json={"name": "B2B voice", "tone": "confident", "style": "crisp", "systemPrompt": "You speak for TechBrand."},
    )
    soul = api.call(
        "POST",
        "/axon/souls",
        201,
        json={"name": "TechBrand", "personaId": persona["id"], "description": "Our B2B tech company identity"},
    )
    assert soul["personaId"] == persona["id"]

    created_proxy = api.call(
        "POST",
        "/axon/proxies",
        201,
        json={
            "name": "US-Residential-1",
            "type": "residential",
            "provider": "IPRoyal",
            "protocol": "http",
            "host": "127.0.0.1",
            "port": proxy.port,
            "credentials": {"username": proxy.username, "password": proxy.password},
        },
    )
    proxy_id = created_proxy["id"]
    assert created_proxy["credentials"] == {"username": proxy.username, "hasPassword": True}
    tested = api.call("POST", f"/axon/proxies/{proxy_id}/test")
    assert (tested["ok"], tested["error"], tested["exitIp"]) == (True, None, "127.0.0.1")
    assert tested["proxy"]["healthStatus"] == "healthy"
    # The IP-echo server was reached by the proxy process, not by the API directly.
    assert [hit.owner_pid for hit in prd_stack.check.hits] == [proxy.pid]

    account = api.call(
        "POST",
        "/axon/accounts",
        201,
        json={
            "soulId": soul["id"],
            "platform": "twitter",
            "handle": f"@{SANDBOX_HANDLE}",
            "displayName": "TechBrand",
            "status": "active",
            "proxyId": proxy_id,
            "credentials": ACCOUNT_CREDENTIALS,
        },
    )
    assert (account["platform"], account["handle"], account["proxyId"]) == ("x", SANDBOX_HANDLE, proxy_id)
    assert account["integrationId"] is None
    assert account["credentials"] == {
        "hasUsername": True,
        "hasPassword": True,
        "hasAccessToken": False,
        "hasRefreshToken": False,
        "hasApiKey": True,
        "hasApiSecret": True,
        "hasTwoFactorSecret": True,
        "backupCodesCount": 2,
    }
    assert api.call("GET", f"/axon/proxies/{proxy_id}")["assignedAccountIds"] == [account["id"]]

    start = api.call("GET", "/integrations/social/x")
    assert start["url"].startswith(_sandbox_base(prd_stack))
    callback = _browser_approves(start["url"])
    assert callback["state"] == start["state"]
    channel = api.call("POST", "/integrations/social/x/connect", json=callback)
    assert (channel["providerIdentifier"], channel["handle"], channel["refreshNeeded"]) == ("x", SANDBOX_HANDLE, False)
    assert [i["id"] for i in api.call("GET", "/integrations/list")] == [channel["id"]]

    linked = _until(
        "auto-link sets account.integrationId",
        lambda: (a := api.call("GET", f"/axon/accounts/{account['id']}"))["integrationId"] and a,
    )
    assert linked["integrationId"] == channel["id"]
    soul_channels = api.call("GET", f"/axon/matrix/souls/{soul['id']}/integrations")["channels"]
    assert [(c["integration"]["id"], c["mapping"]["accountId"], c["mapping"]["isPrimary"]) for c in soul_channels] == [
        (channel["id"], account["id"], True)
    ]
    channel_souls = api.call("GET", f"/axon/matrix/integrations/{channel['id']}/souls")["souls"]
    assert [(s["soul"]["id"], s["mapping"]["accountId"]) for s in channel_souls] == [(soul["id"], account["id"])]

    # --- posting ----------------------------------------------------------------------------------------------
    # Hold X's publish request open for a second, so the socket it arrived on can be traced to a process.
    prd_stack.sandbox.post(
        "/_sandbox/faults", json={"platform": "x", "endpoint": "/2/tweets", "kind": "slow", "delay_s": 1.0}
    ).raise_for_status()
    publish_date = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    content = "Check out our new product: shipped through the TechBrand desk."
    body = {"soulId": soul["id"], "content": content, "publishDate": publish_date.isoformat()}
    post = api.call("POST", "/axon/posts", 201, json=body)
    assert [(d["integrationId"], d["accountId"], d["state"]) for d in post["deliveries"]] == [
        (channel["id"], account["id"], "QUEUE")
    ]
    assert prd_stack.sandbox.get("/_sandbox/posts", params={"platform": "x"}).json()["posts"] == []

    peer_owner = _until("the publish request reaches the platform", lambda: _open_publish_owner(prd_stack), 20, 0.05)
    assert peer_owner == proxy.pid, "the platform saw the account's proxy, not the worker"

    done = _until(
        "the delivery is PUBLISHED",
        lambda: (p := api.call("GET", f"/axon/posts/{post['id']}"))["deliveries"][0]["state"] == "PUBLISHED" and p,
    )
    delivery = done["deliveries"][0]
    assert (done["state"], delivery["attempts"], delivery["lastError"]) == ("PUBLISHED", 1, None)
    assert datetime.fromisoformat(delivery["publishedAt"]) >= publish_date
    held = prd_stack.sandbox.get("/_sandbox/posts", params={"platform": "x"}).json()["posts"]
    assert [(p["text"], p["user_id"]) for p in held] == [(content, channel["internalId"])]
    assert delivery["externalId"] == held[0]["id"]
    assert delivery["url"].endswith(f"/{SANDBOX_HANDLE}/status/{held[0]['id']}")

    # --- secrets ----------------------------------------------------------------------------------------------
    secrets = [USER_PASSWORD, proxy.password, *_strings(ACCOUNT_CREDENTIALS)]
    echoed = [(where, secret) for where, body in api.answers for secret in secrets if secret in body]
    assert echoed == [], "no answer carries a submitted credential"
    logs = [prd_stack.stack.log, *sorted((prd_stack.data_dir / "data" / "logs").glob("*.log"))]
    logged = [(log.name, secret) for log in logs for secret in secrets if secret in log.read_text(errors="replace")]
    assert logged == [], "no process logged a submitted credential"


def _sandbox_base(prd_stack: PrdStack) -> str:
    return str(prd_stack.sandbox.base_url).rstrip("/")


def _open_publish_owner(prd_stack: PrdStack) -> int | None:
    """The pid of the process holding the client end of X's still-open publish request, once there is one."""
    records = prd_stack.sandbox.get("/_sandbox/requests", params={"platform": "x"}).json()["requests"]
    pending = [r for r in records if r["method"] == "POST" and r["path"].endswith("/2/tweets") and r["status"] is None]
    if not pending:
        return None
    return socket_owner_pid(pending[-1]["peer_port"], prd_stack.sandbox_port)


def _strings(values: dict[str, Any]) -> list[str]:
    return [s for v in values.values() for s in (v if isinstance(v, list) else [v])]
