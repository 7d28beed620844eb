"""Webhooks reach public internet addresses only (domain.notifications.targets, adapters.webhook_post): a private
address is refused when the webhook is saved, a name resolving to one is refused when a request is sent, and the
request goes to the very address that was checked. The test settings allow private targets (the receivers listen
on loopback); these tests turn the rule back on."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from temporalio.client import Client

from adapters.webhook_post import post_webhook
from domain.notifications.targets import RefusedTarget, non_public
from tests.conftest import Api, ApiFactory
from tests.integration.publishing_desk import running_workers
from tests.integration.test_webhooks import receiver as _receiver
from tests.support.webhook_receiver import WebhookReceiver

receiver = _receiver


@pytest.fixture
async def strict_api(api_factory: ApiFactory) -> Api:
    return await api_factory(webhook_private_targets=False)


async def test_private_addresses_are_refused_when_a_webhook_is_saved(strict_api: Api) -> None:
    api = strict_api
    h = (await api.register())["headers"]
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/hook",
    ]:
        refused = await api.http.post("/axon/webhooks", json={"url": url}, headers=h)
        assert (refused.status_code, refused.json()["code"]) == (422, "webhook_url_private"), (url, refused.text)
        assert refused.json()["errors"][0]["field"] == "url"
    made = await api.http.post("/axon/webhooks", json={"url": "https://hooks.example.test/x"}, headers=h)
    assert made.status_code == 201, made.text
    patched = await api.http.patch(
        f"/axon/webhooks/{made.json()['id']}", json={"url": "http://192.168.0.10/hook"}, headers=h
    )
    assert (patched.status_code, patched.json()["code"]) == (422, "webhook_url_private")
    assert (await api.http.get(f"/axon/webhooks/{made.json()['id']}", headers=h)).json()["url"].startswith("https://")


async def test_a_name_resolving_to_a_private_address_is_refused_when_sent(
    strict_api: Api, receiver: WebhookReceiver, temporal_client: Client
) -> None:
    api = strict_api
    name = socket.gethostname()  # a name for this machine: it resolves to a loopback or private address
    resolved = {info[4][0] for info in socket.getaddrinfo(name, receiver.port, type=socket.SOCK_STREAM)}
    assert resolved
    assert all(non_public(str(a)) for a in resolved), resolved
    h = (await api.register())["headers"]
    async with running_workers(api, temporal_client):
        made = await api.http.post("/axon/webhooks", json={"url": f"http://{name}:{receiver.port}/hook"}, headers=h)
        assert made.status_code == 201, made.text  # a name: allowed when saved, checked when sent
        hook = made.json()
        ping = (await api.http.post(f"/axon/webhooks/{hook['id']}/test", headers=h)).json()
        deadline = time.monotonic() + 30
        while True:
            listed = await api.http.get(f"/axon/webhooks/{hook['id']}/deliveries", headers=h)
            delivery = next(d for d in listed.json()["items"] if d["id"] == ping["id"])
            if delivery["status"] != "pending":
                break
            assert time.monotonic() < deadline, delivery
            await asyncio.sleep(0.1)
    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 1  # final at once: resolving again would not make it public
    assert "refused to send" in delivery["lastError"]
    assert "public internet addresses only" in delivery["lastError"]
    assert receiver.received == []


async def test_the_request_goes_to_the_checked_address_with_the_name_as_host(receiver: WebhookReceiver) -> None:
    url = f"http://localhost:{receiver.port}/pinned"
    with pytest.raises(RefusedTarget, match=r"localhost resolves to 127\.0\.0\.1"):
        await post_webhook(url, b"{}", {}, timeout_s=5, private_targets=False)
    checked: list[str] = []

    def refused(address: str) -> bool:  # every address allowed, and noted: the rule's input is what was resolved
        checked.append(address)
        return False

    answer = await post_webhook(url, b'{"a":1}', {"X-Test": "1"}, timeout_s=5, private_targets=False, refused=refused)
    assert answer.status_code == 200
    assert checked == ["127.0.0.1"]
    (request,) = receiver.at("/pinned")
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert (request.body, request.headers["x-test"]) == (b'{"a":1}', "1")
