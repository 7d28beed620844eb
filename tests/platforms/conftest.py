"""A real sandbox server (`python -m sandbox`) for the connector tests, and helpers to drive the browser step."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.platforms.bluesky import BlueskyConnector
from adapters.platforms.config import PlatformEndpoints, sandbox_endpoints
from adapters.platforms.mastodon import MastodonConnector
from adapters.platforms.registry import connectors
from domain.channels.connectors import PlatformConnector, ProxySpec, TokenSet
from domain.identity.platforms import Platform
from tests.support.net import serve_on_free_port

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
REDIRECT = "http://127.0.0.1:8000/callback"
BLUESKY_HANDLE = "sandboxbrand.bsky.social"
BLUESKY_APP_PASSWORD = "abcd-efgh-ijkl-mnop"


@dataclass(frozen=True)
class Sandbox:
    url: str
    port: int

    def control(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=5, trust_env=False)

    def reset(self) -> None:
        with self.control() as c:
            c.post("/_sandbox/reset").raise_for_status()

    def fault(self, platform: Platform, kind: str, endpoint: str = "profile", **extra: Any) -> None:
        with self.control() as c:
            body = {"platform": platform.value, "endpoint": endpoint, "kind": kind, **extra}
            c.post("/_sandbox/faults", json=body).raise_for_status()

    def requests(self, platform: Platform | None = None) -> list[dict[str, Any]]:
        with self.control() as c:
            params = {"platform": platform.value} if platform else {}
            records: list[dict[str, Any]] = c.get("/_sandbox/requests", params=params).json()["requests"]
            return records

    def endpoints(self) -> dict[Platform, PlatformEndpoints]:
        return sandbox_endpoints(self.url)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    proc, port = serve_on_free_port(
        lambda port: subprocess.Popen(
            [str(PYTHON if PYTHON.exists() else sys.executable), "-m", "sandbox", "--port", str(port)],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
        )
    )
    try:
        yield Sandbox(f"http://127.0.0.1:{port}", port)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def clean_sandbox(sandbox: Sandbox) -> None:
    """Every test starts with no tokens, faults or logged requests."""
    sandbox.reset()


@dataclass
class Connected:
    connector: PlatformConnector
    tokens: TokenSet


def browser_step(url: str) -> dict[str, str]:
    """What the user's browser does: open the authorize URL; the sandbox auto-approves and redirects back."""
    with httpx.Client(timeout=5, trust_env=False) as browser:
        response = browser.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def connect(sandbox: Sandbox, platform: Platform, proxy: ProxySpec | None = None) -> Connected:
    """The whole sign-in of one platform: authorize → code → tokens (create_session for Bluesky)."""
    connector = connectors(sandbox.endpoints())[platform]
    if isinstance(connector, BlueskyConnector):
        tokens, _ = await connector.create_session(BLUESKY_HANDLE, BLUESKY_APP_PASSWORD, proxy)
        return Connected(connector, tokens)
    if isinstance(connector, MastodonConnector):
        instance = f"{sandbox.url}/mastodon"
        client_id, client_secret = await connector.register_app(instance, REDIRECT, proxy)
        connector = connector.for_instance(instance, client_id, client_secret)
    state = secrets.token_urlsafe(16)
    start = connector.start_authorization(state=state, redirect_uri=REDIRECT)
    query = browser_step(start.url)
    assert query["state"] == state
    tokens = await connector.exchange_code(
        code=query["code"], redirect_uri=REDIRECT, code_verifier=start.code_verifier, proxy=proxy
    )
    return Connected(connector, tokens)
