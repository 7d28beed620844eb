"""POST /axon/proxies/:id/test against real proxy servers (pproxy) and a local IP-echo check server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ApiFactory
from tests.support.proxies import CheckServer, PproxyServer


async def _create(
    api: Any, headers: dict[str, str], protocol: str, port: int, username: str | None, password: str | None
) -> str:
    body: dict[str, Any] = {
        "name": f"{protocol} proxy",
        "type": "datacenter",
        "protocol": protocol,
        "host": "127.0.0.1",
        "port": port,
    }
    if username:
        body["credentials"] = {"username": username, "password": api.secret(password) if password else None}
    response = await api.http.post("/axon/proxies", json=body, headers=headers)
    assert response.status_code == 201, response.text
    proxy_id: str = response.json()["id"]
    return proxy_id


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_a_working_proxy_reports_ok_and_becomes_healthy(
    kind: str, api_factory: ApiFactory, proxy_check_server: CheckServer, request: pytest.FixtureRequest
) -> None:
    server: PproxyServer = request.getfixturevalue(f"pproxy_{kind}")
    api = await api_factory(proxy_check_url=proxy_check_server.url())
    h = (await api.register())["headers"]
    proxy_id = await _create(api, h, kind, server.port, server.username, server.password)
    response = await api.http.post(f"/axon/proxies/{proxy_id}/test", headers=h)
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["error"] is None
    assert body["latencyMs"] >= 0
    assert body["exitIp"] == "127.0.0.1"
    assert body["proxy"]["healthStatus"] == "healthy"
    assert body["proxy"]["uptimePercentage"] == 100.0
    assert body["proxy"]["lastHealthCheck"] is not None
    # The check server was reached by the proxy process, not by the API directly.
    assert [hit.owner_pid for hit in proxy_check_server.hits] == [server.pid]


@pytest.mark.parametrize("kind", ["http", "socks5"])
async def test_wrong_credentials_report_the_reason_and_fail_the_proxy(
    kind: str, api_factory: ApiFactory, proxy_check_server: CheckServer, request: pytest.FixtureRequest
) -> None:
    server: PproxyServer = request.getfixturevalue(f"pproxy_{kind}")
    api = await api_factory(proxy_check_url=proxy_check_server.url())
    h = (await api.register())["headers"]
    proxy_id = await _create(api, h, kind, server.port, server.username, "definitely-wrong-pass")
    body = (await api.http.post(f"/axon/proxies/{proxy_id}/test", headers=h)).json()
    assert body["ok"] is False
    assert "authentication rejected" in body["error"]
    assert body["proxy"]["healthStatus"] == "degraded"  # one failure; the default rule fails it at two in a row
    assert body["proxy"]["lastError"] == body["error"]
    again = (await api.http.post(f"/axon/proxies/{proxy_id}/test", headers=h)).json()
    assert (again["ok"], again["proxy"]["healthStatus"]) == (False, "failed")
    assert proxy_check_server.hits == []


async def test_a_dead_proxy_fails_without_any_direct_request(
    api_factory: ApiFactory, proxy_check_server: CheckServer, refusing_port: int
) -> None:
    api = await api_factory(proxy_check_url=proxy_check_server.url())
    h = (await api.register())["headers"]
    proxy_id = await _create(api, h, "http", refusing_port, None, None)
    first = (await api.http.post(f"/axon/proxies/{proxy_id}/test", headers=h)).json()
    assert first["ok"] is False
    assert first["error"] == "proxy unreachable: connection refused"
    assert first["proxy"]["healthStatus"] == "degraded"
    second = (await api.http.post(f"/axon/proxies/{proxy_id}/test", headers=h)).json()
    assert second["proxy"]["healthStatus"] == "failed"
    assert proxy_check_server.hits == []
    listed = (await api.http.get("/axon/proxies", params={"healthStatus": "failed"}, headers=h)).json()
    assert [p["id"] for p in listed["items"]] == [proxy_id]
    assert listed["items"][0]["uptimePercentage"] == 0.0
