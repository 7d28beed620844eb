"""Every stored secret stays out of every response (but the reveal endpoints) and out of the logs."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import LOGS, RESPONSES, REVEALING_PATHS, Api
from tests.support.leaks import find_leaks


async def test_no_stored_secret_appears_in_any_response_or_log(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    first_response, first_log = len(RESPONSES), len(LOGS.lines)
    secrets = {
        "username": "scenario-login-name",
        "password": "scenario-password-1",
        "accessToken": "scenario-access-tok",
        "refreshToken": "scenario-refresh-tok",
        "apiKey": "scenario-api-key-1",
        "apiSecret": "scenario-api-secret",
        "twoFactorSecret": "KRSXG5CTMVRXEZLUKRSXG5CT",
    }
    codes = ["scenario-code-1", "scenario-code-2"]
    proxy_password = "scenario-proxy-pass"
    owner = await api.register(password="scenario-owner-pass")
    h = owner["headers"]
    soul = (await api.http.post("/axon/souls", json={"name": "Leak Check"}, headers=h)).json()
    proxy = (
        await api.http.post(
            "/axon/proxies",
            headers=h,
            json={
                "name": "p",
                "type": "mobile",
                "protocol": "socks5",
                "host": "127.0.0.1",
                "port": 1,
                "credentials": {"username": "proxy-user", "password": proxy_password},
            },
        )
    ).json()
    account = (
        await api.http.post(
            "/axon/accounts",
            headers=h,
            json={
                "soulId": soul["id"],
                "platform": "instagram",
                "handle": "leak.check",
                "proxyId": proxy["id"],
                "credentials": {**secrets, "backupCodes": codes},
            },
        )
    ).json()
    path = f"/axon/accounts/{account['id']}"
    await api.http.get(path, headers=h)
    await api.http.get("/axon/accounts", params={"soulId": soul["id"]}, headers=h)
    await api.http.put(
        path, json={"displayName": "Leak", "credentials": {"password": "scenario-password-2"}}, headers=h
    )
    await api.http.get(f"{path}/totp", headers=h)
    await api.http.post(f"{path}/credentials/reveal", headers=h)
    await api.http.post(f"/axon/proxies/{proxy['id']}/test", headers=h)  # fails: nothing listens on port 1
    await api.http.get(f"/axon/proxies/{proxy['id']}", headers=h)
    await api.http.get("/axon/audit-logs", params={"limit": 200}, headers=h)
    await api.http.post(
        "/axon/accounts",
        json={
            "soulId": soul["id"],
            "platform": "x",
            "handle": "bad handle!",
            "credentials": {"password": "scenario-password-3"},
        },
        headers=h,
    )

    all_secrets = {
        *secrets.values(),
        *codes,
        proxy_password,
        "scenario-password-2",
        "scenario-password-3",
        "scenario-owner-pass",
    }
    responses = RESPONSES[first_response:]
    assert len(responses) >= 13
    log_lines = LOGS.lines[first_log:] + [r.getMessage() for r in caplog.records]
    assert find_leaks(responses, log_lines, all_secrets, REVEALING_PATHS) == []
    # The reveal answer did carry them: the check above looked at real secrets, not at values never sent.
    revealed = next(body for p, body in responses if p.endswith("/credentials/reveal"))
    assert secrets["apiSecret"] in revealed
