"""Capture the workflow histories the replay tests replay: `python -m tests.replay.capture`.

Runs real scenarios on a Temporal dev server of its own with the real workers (as worker.py builds them), the API (in
process), the platform sandbox and a real pproxy HTTP proxy, then writes each finished workflow's history to
tests/replay/histories/<scenario>.json. After a deliberate workflow change (guarded by `workflow.patched` where running
executions depend on the old code), recapture with `--keep-as NAME`: the previous histories move to histories/NAME/ and
stay replayed, which is what proves the patch keeps old executions working. Without it they are replaced.

The histories are captured encrypted, as in production (the payload codec, under a key made up for this run), and
written decoded: the committed files are readable and reviewable, and the workflows carry ids, dates and outcomes
only. Before anything is written, every secret this run handled (passwords, the account's credentials, the proxy
password, the channel's OAuth tokens as they were after each scenario, the API's JWTs) is looked for in each history;
one match and nothing is written. Worker identities and sticky queue names (pid@host) and failure stack traces (this
machine's paths) are replaced, which replay does not look at."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from adapters.crypto.fields import Keyring
from adapters.temporal.client import data_converter
from adapters.temporal.codec import ENCODING, EncryptionCodec
from adapters.temporal.devserver import dynamic_config_args, temporal_cli
from api.container import Container, build
from api.main import create_app
from cli import migrate
from domain.channels.integrations import integration_record
from settings import Settings
from tests.platforms.conftest import browser_step
from tests.support.net import free_port
from tests.support.proxies import PproxyServer
from worker import build_workers
from workflows import search_attributes
from workflows.token_refresh import TokenRefreshWorkflow

ROOT = Path(__file__).resolve().parents[2]
HISTORIES = Path(__file__).resolve().parent / "histories"

# The scenarios, in the order they run; each names one file in histories/.
SCENARIOS = (
    "autolink_links_the_account",
    "post_publishes_at_its_time",
    "post_rescheduled_then_published",
    "post_cancelled",
    "post_approved_then_published",
    "post_auth_expired_refreshed_then_published",
    "post_retried_after_a_server_error",
    "post_revoked_token_fails",
    "token_refresh_one_loop_then_stopped",
)

# Secrets the scenarios submit; the replay tests also look for these in the committed files.
USER_PASSWORD = "replay capture password 4417"
PROXY_USERNAME = "replay-proxy-user"
PROXY_PASSWORD = "replay-proxy-pass-91c3e0"
ACCOUNT_CREDENTIALS: dict[str, Any] = {
    "username": "replay-login-5521",
    "password": "replay account password 0d9f",
    "twoFactorSecret": "KRSXG5CTMVRXEZLUKRSXG5CT",
    "apiKey": "replay-api-key-7be1",
    "apiSecret": "replay-api-secret-c04a",
    "backupCodes": ["replay-backup-1111", "replay-backup-2222"],
}
SUBMITTED_SECRETS = (
    USER_PASSWORD,
    PROXY_PASSWORD,
    *(s for v in ACCOUNT_CREDENTIALS.values() for s in (v if isinstance(v, list) else [v])),
)

# The handle of the user the sandbox approves on X: the Account auto-link must find.
SANDBOX_HANDLE = "sandboxbrand"
_IDENTITY = "replay-capture"
PUBLISHED = {"state": "PUBLISHED"}

log = logging.getLogger("replay.capture")


# --- the stack, in miniature ------------------------------------------------------------------------------------


@contextlib.contextmanager
def _sandbox() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/_sandbox/requests", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class Desk:
    http: httpx.AsyncClient
    sandbox: httpx.AsyncClient
    container: Container
    client: Client
    proxy: PproxyServer
    headers: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=lambda: set(SUBMITTED_SECRETS))
    organization_id: str = ""
    soul_id: str = ""
    account_id: str = ""
    integration_id: str = ""

    async def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, headers=self.headers, **kwargs)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def remember_channel_tokens(self) -> None:
        """The channel's current OAuth tokens join the secrets no history may hold (they rotate on refresh)."""
        async with self.container.uow.reading() as uow:
            integration = await uow.integrations.get(self.organization_id, self.integration_id)
        if integration is None:
            return
        record = integration_record(integration.id)
        cipher = self.container.cipher
        if integration.token:
            self.secrets.add(cipher.decrypt_str(integration.token, record=record, field="token"))
        if integration.refresh_token:
            self.secrets.add(cipher.decrypt_str(integration.refresh_token, record=record, field="refreshToken"))

    async def post(self, content: str, **body: Any) -> WorkflowHandle[Any, Any]:
        created = await self.call("POST", "/axon/posts", 201, json={"soulId": self.soul_id, "content": content, **body})
        return self.client.get_workflow_handle(f"post:{created['id']}:{self.integration_id}")

    async def fault(self, **spec: Any) -> None:
        (await self.sandbox.post("/_sandbox/faults", json={"platform": "x", **spec})).raise_for_status()


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def _until(what: str, check: Callable[[], Awaitable[bool]], within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {within_s}s")
        await asyncio.sleep(0.2)


async def _finished(
    handle: WorkflowHandle[Any, Any], expect: dict[str, Any], within_s: float = 60
) -> WorkflowHandle[Any, Any]:
    """The handle once its workflow completed with a result holding `expect`: a history is named by its outcome."""
    async with asyncio.timeout(within_s):
        result = await handle.result()
    if not isinstance(result, dict) or {k: result.get(k) for k in expect} != expect:
        raise RuntimeError(f"{handle.id} ended with {result}, expected {expect}")
    return handle


async def _query_state(handle: WorkflowHandle[Any, Any]) -> Any:
    with contextlib.suppress(Exception):
        return await handle.query("state")
    return None


# --- scenarios --------------------------------------------------------------------------------------------------


async def _setup(desk: Desk) -> WorkflowHandle[Any, Any]:
    """Register, soul, proxy, account with credentials, connect X: the auto-link finds the account."""
    tokens = await desk.call(
        "POST",
        "/auth/register",
        201,
        json={
            "email": "replay@example.com",
            "password": USER_PASSWORD,
            "name": "Replay",
            "organizationName": "Replay",
        },
    )
    desk.secrets.update({tokens["accessToken"], tokens["refreshToken"]})
    desk.headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
    desk.organization_id = (await desk.call("GET", "/auth/me"))["organization"]["id"]
    desk.soul_id = (await desk.call("POST", "/axon/souls", 201, json={"name": "Replay Brand"}))["id"]
    proxy = await desk.call(
        "POST",
        "/axon/proxies",
        201,
        json={
            "name": "replay proxy",
            "type": "datacenter",
            "protocol": "http",
            "host": "127.0.0.1",
            "port": desk.proxy.port,
            "credentials": {"username": PROXY_USERNAME, "password": PROXY_PASSWORD},
        },
    )
    account = await desk.call(
        "POST",
        "/axon/accounts",
        201,
        json={
            "soulId": desk.soul_id,
            "platform": "x",
            "handle": SANDBOX_HANDLE,
            "status": "active",
            "proxyId": proxy["id"],
            "credentials": ACCOUNT_CREDENTIALS,
        },
    )
    desk.account_id = account["id"]
    start = await desk.call("GET", "/integrations/social/x")
    channel = await desk.call("POST", "/integrations/social/x/connect", json=browser_step(start["url"]))
    desk.integration_id = channel["id"]
    await desk.remember_channel_tokens()
    return await _finished(desk.client.get_workflow_handle(f"autolink:{desk.integration_id}"), {"outcome": "linked"})


async def _publish_at_time(desk: Desk) -> WorkflowHandle[Any, Any]:
    return await _finished(await desk.post("Replay: published at its time", publishDate=_in(2)), PUBLISHED)


async def _reschedule(desk: Desk) -> WorkflowHandle[Any, Any]:
    handle = await desk.post("Replay: rescheduled", publishDate=_in(3600))
    await _until("the post waits", lambda: _waiting(handle))
    post_id = handle.id.split(":")[1]
    await desk.call("POST", f"/axon/posts/{post_id}/reschedule", json={"publishDate": _in(2)})
    return await _finished(handle, PUBLISHED)


async def _cancel(desk: Desk) -> WorkflowHandle[Any, Any]:
    handle = await desk.post("Replay: cancelled", publishDate=_in(3600))
    await _until("the post waits", lambda: _waiting(handle))
    await desk.call("POST", f"/axon/posts/{handle.id.split(':')[1]}/cancel")
    return await _finished(handle, {"state": "CANCELLED"})


async def _approve(desk: Desk) -> WorkflowHandle[Any, Any]:
    handle = await desk.post("Replay: approved", requiresApproval=True)
    await _until("the post waits for approval", lambda: _waiting(handle, approval="pending"))
    await desk.call("POST", f"/axon/posts/{handle.id.split(':')[1]}/approve", json={"note": "fine"})
    return await _finished(handle, PUBLISHED)


async def _waiting(handle: WorkflowHandle[Any, Any], approval: str | None = None) -> bool:
    state = await _query_state(handle)
    return bool(state and state["state"] == "QUEUE" and (approval is None or state["approval"] == approval))


async def _auth_expired(desk: Desk) -> WorkflowHandle[Any, Any]:
    await desk.fault(endpoint="/2/tweets", kind="expire_token")
    handle = await _finished(await desk.post("Replay: after a refresh"), PUBLISHED)
    await desk.remember_channel_tokens()
    return handle


async def _retried(desk: Desk) -> WorkflowHandle[Any, Any]:
    """The first attempt meets a 503; the workflow's own retry (searchable as PUBLISHING) publishes."""
    await desk.fault(endpoint="/2/tweets", kind="server_error", status=503)
    return await _finished(await desk.post("Replay: retried after a server error"), PUBLISHED)


async def _revoked(desk: Desk) -> WorkflowHandle[Any, Any]:
    await desk.fault(endpoint="/2/tweets", kind="revoke_token")
    return await _finished(await desk.post("Replay: revoked"), {"state": "FAILED", "error_code": "AuthRevoked"})


async def _token_refresh_loop(desk: Desk) -> WorkflowHandle[Any, Any]:
    """The channel's refresh loop refreshed once (asked by the expired-token scenario): stop it while it waits."""
    handle = desk.client.get_workflow_handle(f"token-refresh:{desk.integration_id}")

    async def waiting_after_one_refresh() -> bool:
        state = await _query_state(handle)
        return bool(state and state["phase"] == "waiting" and state["refreshes"] == 1)

    await _until("the refresh loop waits after one refresh", waiting_after_one_refresh)
    await handle.signal(TokenRefreshWorkflow.stop)
    return await _finished(handle, {"phase": "stopped", "refreshes": 1})


async def _run_scenarios(desk: Desk) -> dict[str, WorkflowHandle[Any, Any]]:
    done = {"autolink_links_the_account": await _setup(desk)}
    # Independent of each other (no faults): run together to keep the capture short.
    names = (
        "post_publishes_at_its_time",
        "post_rescheduled_then_published",
        "post_cancelled",
        "post_approved_then_published",
    )
    handles = await asyncio.gather(_publish_at_time(desk), _reschedule(desk), _cancel(desk), _approve(desk))
    done.update(zip(names, handles, strict=True))
    done["post_auth_expired_refreshed_then_published"] = await _auth_expired(desk)
    done["token_refresh_one_loop_then_stopped"] = await _token_refresh_loop(desk)
    done["post_retried_after_a_server_error"] = await _retried(desk)
    # Last: a revoked grant marks the channel as needing a reconnect.
    done["post_revoked_token_fails"] = await _revoked(desk)
    return done


# --- histories --------------------------------------------------------------------------------------------------


async def _decoded(value: Any, codec: EncryptionCodec) -> Any:
    """The history JSON with every encrypted payload replaced by its plain form."""
    if isinstance(value, list):
        return [await _decoded(v, codec) for v in value]
    if not isinstance(value, dict):
        return value
    encoding = value.get("metadata", {}).get("encoding") if isinstance(value.get("metadata"), dict) else None
    if encoding == base64.b64encode(ENCODING).decode():
        sealed = json_format.ParseDict(value, Payload())
        [plain] = await codec.decode([sealed])
        return json_format.MessageToDict(plain)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "identity" and isinstance(item, str):
            out[key] = _IDENTITY
        elif key == "stackTrace" and isinstance(item, str):
            out[key] = ""
        elif key == "taskQueue" and isinstance(item, dict) and item.get("kind") == "TASK_QUEUE_KIND_STICKY":
            out[key] = {**item, "name": f"{_IDENTITY}-sticky"}  # named after the worker's pid@host
        else:
            out[key] = await _decoded(item, codec)
    return out


def readable(document: Any) -> str:
    """The history as text with every payload's data decoded, for looking for secrets."""
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            if isinstance(value.get("metadata"), dict) and isinstance(value.get("data"), str):
                parts.append(base64.b64decode(value["data"]).decode(errors="replace"))
            for v in value.values():
                walk(v)
        elif isinstance(value, str):
            parts.append(value)

    walk(document)
    return "\n".join(parts)


async def _history_document(
    scenario: str, handle: WorkflowHandle[Any, Any], codec: EncryptionCodec, secrets: set[str]
) -> dict[str, Any]:
    history = await handle.fetch_history()
    description = await handle.describe()
    decoded = await _decoded(json.loads(history.to_json()), codec)
    text = readable(decoded)
    leaked = sorted({s[:4] + "…" for s in secrets if len(s) >= 6 and s in text})
    if leaked:
        raise RuntimeError(f"{scenario}: the history holds secrets ({', '.join(leaked)}); nothing was written")
    return {
        "scenario": scenario,
        "workflowId": handle.id,
        "workflowType": description.workflow_type,
        "capturedAt": datetime.now(UTC).isoformat(timespec="seconds"),
        "history": decoded,
    }


# --- main -------------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _running(settings: Settings, client: Client, sandbox_url: str, proxy: PproxyServer) -> AsyncIterator[Desk]:
    container = await build(settings)
    app = create_app(container=container)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://capture") as http,
            httpx.AsyncClient(base_url=sandbox_url, timeout=5, trust_env=False) as sandbox,
            contextlib.AsyncExitStack() as workers,
        ):
            for worker in build_workers(client, settings, container.uow, container.documents):
                await workers.enter_async_context(worker)
            yield Desk(http, sandbox, container, client, proxy)
    finally:
        await lifespan.__aexit__(None, None, None)
        await container.close()


async def capture() -> dict[str, dict[str, Any]]:
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    # A key of this run only: the histories are written decoded, so no key is needed to replay them.
    codec_keys = f"capture:{base64.b64encode(os.urandom(32)).decode()}"
    with tempfile.TemporaryDirectory(prefix="replay-capture-") as tmp, _sandbox() as sandbox_url:
        database_url = f"sqlite+aiosqlite:///{Path(tmp) / 'souls.db'}"
        await asyncio.to_thread(migrate, database_url)
        with PproxyServer("http", PROXY_USERNAME, PROXY_PASSWORD) as proxy:
            base = Settings(environment="test", payload_codec_keys=codec_keys)
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=temporal_cli(),
                data_converter=data_converter(base),
                search_attributes=search_attributes.ALL,
                dev_server_extra_args=dynamic_config_args({"matching.longPollExpirationInterval": "1s"}),
            )
            async with env:
                settings = base.model_copy(
                    update={
                        "database_url": database_url,
                        "temporal_address": env.client.service_client.config.target_host,
                        "temporal_task_queue": "replay-capture",
                        "sandbox_port": int(sandbox_url.rsplit(":", 1)[1]),
                        "post_metrics_offsets_s": [1.0],  # the post workflows finish a second after publishing
                        "post_heartbeat_timeout_s": 3.0,
                        "post_publish_attempts": 3,
                    }
                )
                async with _running(settings, env.client, sandbox_url, proxy) as desk:
                    handles = await _run_scenarios(desk)
                    codec = EncryptionCodec(Keyring.parse(codec_keys))
                    documents = {
                        name: await _history_document(name, handles[name], codec, desk.secrets) for name in SCENARIOS
                    }
    return documents


def keep_as(name: str, out_dir: Path) -> None:
    """Move the current histories to `out_dir/name/`, where the replay tests keep replaying them: executions started
    under the old code must still replay after a change guarded by `workflow.patched`."""
    target = out_dir / name
    if target.exists():
        raise SystemExit(f"{target} exists already")
    target.mkdir(parents=True)
    for current in out_dir.glob("*.json"):
        current.rename(target / current.name)


def write(documents: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    """Replace the histories in `out_dir` (all or none: only called once every scenario was captured)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("*.json"):
        stale.unlink()
    written = []
    for name, document in documents.items():
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--out", type=Path, default=HISTORIES, help="where to write the histories")
    parser.add_argument(
        "--keep-as",
        metavar="NAME",
        help="first move the current histories to OUT/NAME/ so they stay replayed (after a patched workflow change)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    documents = asyncio.run(capture())
    if args.keep_as:
        keep_as(args.keep_as, args.out)
    for path in write(documents, args.out):
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    print(f"captured {len(SCENARIOS)} histories in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
