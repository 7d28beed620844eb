"""The identity endpoints through the API: souls, personas, accounts (credentials write-only), proxies."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pyotp
import pytest
from temporalio.client import Client

from tests.conftest import Api
from tests.integration.publishing_desk import running_workers

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def _soul(api: Api, h: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await api.http.post("/axon/souls", json={"name": "Acme Coffee", **body}, headers=h)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _proxy(api: Api, h: dict[str, str], **body: Any) -> dict[str, Any]:
    payload = {
        "name": "Manila 1",
        "type": "residential",
        "protocol": "http",
        "host": "proxy.example.com",
        "port": 8080,
        **body,
    }
    response = await api.http.post("/axon/proxies", json=payload, headers=h)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _account(api: Api, h: dict[str, str], soul_id: str, **body: Any) -> dict[str, Any]:
    payload = {"soulId": soul_id, "platform": "x", "handle": "@AcmeCoffee", **body}
    response = await api.http.post("/axon/accounts", json=payload, headers=h)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_soul_crud_with_camel_case_and_server_maintained_account_ids(api: Api) -> None:
    h = (await api.register())["headers"]
    persona = (
        await api.http.post("/axon/personas", json={"name": "Barista", "timezone": "Asia/Manila"}, headers=h)
    ).json()
    soul = await _soul(api, h, description="Coffee brand", personaId=persona["id"], metadata={"tier": "gold"})
    assert soul["personaId"] == persona["id"]
    assert soul["accountIds"] == []
    assert soul["status"] == "active"
    account = await _account(api, h, soul["id"])
    fetched = (await api.http.get(f"/axon/souls/{soul['id']}", headers=h)).json()
    assert fetched["accountIds"] == [account["id"]]
    updated = await api.http.put(f"/axon/souls/{soul['id']}", json={"status": "inactive", "personaId": None}, headers=h)
    assert updated.status_code == 200
    assert (updated.json()["status"], updated.json()["personaId"], updated.json()["name"]) == (
        "inactive",
        None,
        "Acme Coffee",
    )
    listed = (await api.http.get("/axon/souls", params={"status": "inactive", "search": "coff"}, headers=h)).json()
    assert [s["id"] for s in listed["items"]] == [soul["id"]]


async def _delete_with_cascade(api: Api, h: dict[str, str], soul_id: str, client: Client) -> None:
    """The soul has accounts: the SoulDeletionWorkflow deletes it (see tests/integration/test_lifecycle.py)."""
    async with running_workers(api, client):
        started = await api.http.delete(f"/axon/souls/{soul_id}", params={"cascade": "true"}, headers=h)
        assert started.status_code == 202, started.text
        await client.get_workflow_handle(started.json()["workflowId"]).result()


async def test_deleting_a_soul_with_accounts_is_409_unless_cascade(api: Api, temporal_client: Client) -> None:
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    account = await _account(api, h, soul["id"])
    blocked = await api.http.delete(f"/axon/souls/{soul['id']}", headers=h)
    assert blocked.status_code == 409
    assert blocked.json()["code"] == "soul_has_accounts"
    assert blocked.json()["blocking"] == {"accountIds": [account["id"]]}
    await _delete_with_cascade(api, h, soul["id"], temporal_client)
    assert (await api.http.get(f"/axon/souls/{soul['id']}", headers=h)).status_code == 404
    assert (await api.http.get(f"/axon/accounts/{account['id']}", headers=h)).status_code == 404


async def test_persona_validates_its_timezone_and_languages(api: Api) -> None:
    h = (await api.register())["headers"]
    bad = await api.http.post("/axon/personas", json={"name": "P", "timezone": "Mars/Olympus"}, headers=h)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "timezone"
    bad_lang = await api.http.post("/axon/personas", json={"name": "P", "languagePreferences": ["english!"]}, headers=h)
    assert bad_lang.status_code == 422
    assert bad_lang.json()["errors"][0]["field"].startswith("languagePreferences")
    good = await api.http.post(
        "/axon/personas",
        headers=h,
        json={
            "name": "Barista",
            "tone": "warm",
            "style": "short",
            "systemPrompt": "You are a barista.",
            "demographics": {"age": 28},
            "personality": {"interests": ["coffee"]},
            "backstory": "Grew up in Cebu.",
            "primaryLocation": "Manila",
            "timezone": "Asia/Manila",
            "languagePreferences": ["en", "fil"],
            "activitySchedule": {"weekdays": ["08:00"]},
            "contentThemes": ["coffee", "mornings"],
            "engagementStyle": {"replies": "often"},
        },
    )
    assert good.status_code == 201
    assert good.json()["primaryLocation"] == "Manila"
    patched = await api.http.patch(f"/axon/personas/{good.json()['id']}", json={"timezone": "Europe/Berlin"}, headers=h)
    assert patched.json()["timezone"] == "Europe/Berlin"
    assert patched.json()["contentThemes"] == ["coffee", "mornings"]


async def test_account_credentials_are_write_only_and_revealed_to_admins_only(api: Api) -> None:
    owner = await api.register()
    h = owner["headers"]
    soul = await _soul(api, h)
    creds = {
        "username": api.secret("acme-login-name"),
        "password": api.secret("pa55-word-secret"),
        "accessToken": api.secret("access-token-value"),
        "apiKey": api.secret("api-key-value-1"),
        "twoFactorSecret": api.secret(TOTP_SECRET),
        "backupCodes": [api.secret(f"backup-{i:04d}") for i in range(8)],
    }
    account = await _account(api, h, soul["id"], credentials=creds)
    assert account["credentials"] == {
        "hasUsername": True,
        "hasPassword": True,
        "hasAccessToken": True,
        "hasRefreshToken": False,
        "hasApiKey": True,
        "hasApiSecret": False,
        "hasTwoFactorSecret": True,
        "backupCodesCount": 8,
    }
    assert account["handle"] == "acmecoffee"

    revealed = await api.http.post(f"/axon/accounts/{account['id']}/credentials/reveal", headers=h)
    assert revealed.status_code == 200
    assert revealed.json()["credentials"]["password"] == "pa55-word-secret"
    assert revealed.json()["credentials"]["backupCodes"] == creds["backupCodes"]

    member = await api.http.post(
        "/auth/users",
        headers=h,
        json={"email": "op@example.com", "name": "Op", "password": api.secret("member password 1")},
    )
    assert member.status_code == 201
    tokens = (
        await api.http.post("/auth/login", json={"email": "op@example.com", "password": "member password 1"})
    ).json()
    mh = {"Authorization": f"Bearer {tokens['accessToken']}"}
    assert (await api.http.post(f"/axon/accounts/{account['id']}/credentials/reveal", headers=mh)).status_code == 403

    totp = await api.http.get(f"/axon/accounts/{account['id']}/totp", headers=mh)
    assert totp.status_code == 200
    assert totp.json()["code"] in {pyotp.TOTP(TOTP_SECRET).now(), pyotp.TOTP(TOTP_SECRET).at(time.time() - 30)}
    assert 0 < totp.json()["validForSeconds"] <= 30

    actions = [
        e["action"] for e in (await api.http.get("/axon/audit-logs", params={"limit": 200}, headers=h)).json()["items"]
    ]
    assert {"account.credentials_set", "account.credentials_reveal", "account.totp_read"} <= set(actions)


async def test_credentials_merge_field_by_field(api: Api) -> None:
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    account = await _account(api, h, soul["id"], credentials={"password": api.secret("first-password")})
    patched = await api.http.patch(
        f"/axon/accounts/{account['id']}", headers=h, json={"credentials": {"apiKey": api.secret("new-api-key")}}
    )
    assert patched.json()["credentials"]["hasPassword"] is True
    assert patched.json()["credentials"]["hasApiKey"] is True
    removed = await api.http.patch(
        f"/axon/accounts/{account['id']}", headers=h, json={"credentials": {"password": None}}
    )
    assert removed.json()["credentials"]["hasPassword"] is False
    assert removed.json()["credentials"]["hasApiKey"] is True
    revealed = (await api.http.post(f"/axon/accounts/{account['id']}/credentials/reveal", headers=h)).json()
    assert revealed["credentials"] == {"apiKey": "new-api-key"}


async def test_account_input_is_validated_with_named_fields(api: Api) -> None:
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    cases: list[tuple[dict[str, Any], str, int]] = [
        ({"platform": "myspace"}, "platform", 422),
        ({"handle": "not a handle!"}, "handle", 422),
        ({"soulId": "no-such-soul"}, "soulId", 422),
        ({"proxyId": "no-such-proxy"}, "proxyId", 422),
        ({"lastActivityAt": "2026-01-01T10:00:00"}, "lastActivityAt", 422),
        ({"credentials": {"twoFactorSecret": "not base32 !!"}}, "credentials.twoFactorSecret", 422),
        ({"status": "deleted"}, "status", 422),
    ]
    for override, field, code in cases:
        body = {"soulId": soul["id"], "platform": "x", "handle": "valid_handle", **override}
        response = await api.http.post("/axon/accounts", json=body, headers=h)
        assert response.status_code == code, (override, response.text)
        assert response.json()["errors"][0]["field"] == field, override
    assert (await api.http.get("/axon/accounts", headers=h)).json()["items"] == []  # nothing half-written


async def test_twitter_is_an_alias_of_x_and_handles_are_unique_per_platform(api: Api) -> None:
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    first = await _account(api, h, soul["id"], platform="twitter", handle="@Acme")
    assert first["platform"] == "x"
    duplicate = await api.http.post(
        "/axon/accounts", json={"soulId": soul["id"], "platform": "x", "handle": "ACME"}, headers=h
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "handle_taken"
    await _account(api, h, soul["id"], platform="bluesky", handle="acme.bsky.social")
    await _account(api, h, soul["id"], platform="mastodon", handle="@acme@mastodon.social")
    listed = (await api.http.get("/axon/accounts", params={"platform": "twitter"}, headers=h)).json()
    assert [a["id"] for a in listed["items"]] == [first["id"]]
    bad_filter = await api.http.get("/axon/accounts", params={"platform": "myspace"}, headers=h)
    assert bad_filter.status_code == 422


async def test_proxy_assignment_keeps_both_sides_in_step(api: Api) -> None:
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    proxy = await _proxy(api, h, credentials={"username": "user1", "password": api.secret("proxy-pass-1")})
    assert proxy["credentials"] == {"username": "user1", "hasPassword": True}
    account = await _account(api, h, soul["id"])
    assigned = await api.http.patch(f"/axon/accounts/{account['id']}/proxy", json={"proxyId": proxy["id"]}, headers=h)
    assert assigned.json()["proxyId"] == proxy["id"]
    assert (await api.http.get(f"/axon/proxies/{proxy['id']}", headers=h)).json()["assignedAccountIds"] == [
        account["id"]
    ]
    blocked = await api.http.delete(f"/axon/proxies/{proxy['id']}", headers=h)
    assert blocked.status_code == 409
    assert blocked.json()["blocking"]["accountIds"] == [account["id"]]
    await api.http.patch(f"/axon/accounts/{account['id']}/proxy", json={"proxyId": None}, headers=h)
    assert (await api.http.get(f"/axon/proxies/{proxy['id']}", headers=h)).json()["assignedAccountIds"] == []
    actions = [e["action"] for e in (await api.http.get("/axon/audit-logs", headers=h)).json()["items"]]
    assert actions[:2] == ["account.proxy_unassign", "account.proxy_assign"]
    assert (await api.http.delete(f"/axon/proxies/{proxy['id']}", headers=h)).status_code == 204


async def test_proxy_input_is_validated(api: Api) -> None:
    h = (await api.register())["headers"]
    base = {"name": "P", "type": "residential", "protocol": "socks5", "host": "10.1.2.3", "port": 1080}
    for override, field in (
        ({"port": 70000}, "port"),
        ({"port": 0}, "port"),
        ({"host": "bad host!"}, "host"),
        ({"type": "cloud"}, "type"),
        ({"protocol": "ftp"}, "protocol"),
        ({"country": "PHL"}, "country"),
    ):
        response = await api.http.post("/axon/proxies", json={**base, **override}, headers=h)
        assert response.status_code == 422, override
        assert response.json()["errors"][0]["field"] == field
    created = await api.http.post("/axon/proxies", json={**base, "country": "ph"}, headers=h)
    assert created.json()["country"] == "PH"
    assert created.json()["healthStatus"] == "unknown"


async def test_proxy_password_is_revealed_to_admins_and_can_be_replaced(api: Api) -> None:
    h = (await api.register())["headers"]
    proxy = await _proxy(api, h, credentials={"username": "u", "password": api.secret("first-proxy-pass")})
    revealed = (await api.http.post(f"/axon/proxies/{proxy['id']}/credentials/reveal", headers=h)).json()
    assert revealed == {"username": "u", "password": "first-proxy-pass"}
    await api.http.patch(
        f"/axon/proxies/{proxy['id']}", json={"credentials": {"password": api.secret("second-pass")}}, headers=h
    )
    revealed = (await api.http.post(f"/axon/proxies/{proxy['id']}/credentials/reveal", headers=h)).json()
    assert revealed["password"] == "second-pass"


async def test_another_organizations_identity_objects_answer_404(api: Api) -> None:
    mine = (await api.register(org="Mine"))["headers"]
    theirs = (await api.register(org="Theirs"))["headers"]
    soul = await _soul(api, theirs)
    persona = (await api.http.post("/axon/personas", json={"name": "P"}, headers=theirs)).json()
    proxy = await _proxy(api, theirs)
    account = await _account(api, theirs, soul["id"], credentials={"twoFactorSecret": TOTP_SECRET})
    requests = [
        ("GET", f"/axon/souls/{soul['id']}", None),
        ("PUT", f"/axon/souls/{soul['id']}", {"name": "x"}),
        ("DELETE", f"/axon/souls/{soul['id']}", None),
        ("GET", f"/axon/personas/{persona['id']}", None),
        ("PATCH", f"/axon/personas/{persona['id']}", {"name": "x"}),
        ("DELETE", f"/axon/personas/{persona['id']}", None),
        ("GET", f"/axon/proxies/{proxy['id']}", None),
        ("PUT", f"/axon/proxies/{proxy['id']}", {"name": "x"}),
        ("DELETE", f"/axon/proxies/{proxy['id']}", None),
        ("POST", f"/axon/proxies/{proxy['id']}/test", None),
        ("POST", f"/axon/proxies/{proxy['id']}/credentials/reveal", None),
        ("GET", f"/axon/accounts/{account['id']}", None),
        ("PUT", f"/axon/accounts/{account['id']}", {"displayName": "x"}),
        ("DELETE", f"/axon/accounts/{account['id']}", None),
        ("PATCH", f"/axon/accounts/{account['id']}/proxy", {"proxyId": None}),
        ("POST", f"/axon/accounts/{account['id']}/credentials/reveal", None),
        ("GET", f"/axon/accounts/{account['id']}/totp", None),
    ]
    for method, path, body in requests:
        response = await api.http.request(method, path, json=body, headers=mine)
        assert response.status_code == 404, (method, path, response.text)
    my_soul = await _soul(api, mine)
    cross = await api.http.post(
        "/axon/accounts",
        json={"soulId": my_soul["id"], "platform": "x", "handle": "mine", "proxyId": proxy["id"]},
        headers=mine,
    )
    assert cross.status_code == 422
    assert cross.json()["errors"][0]["field"] == "proxyId"
    assert (await api.http.get("/axon/souls", headers=mine)).json()["items"][0]["id"] == my_soul["id"]


async def test_the_api_runs_on_the_firestore_document_store(
    api_factory: Any, firestore_emulator: Any, firestore_store_factory: Any, temporal_client: Client
) -> None:
    await firestore_store_factory()  # an empty emulator
    api = await api_factory(document_store="firestore", firestore_emulator_host=firestore_emulator.host)
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    proxy = await _proxy(api, h)
    account = await _account(api, h, soul["id"], proxyId=proxy["id"], credentials={"password": api.secret("fs-pass-1")})
    assert account["credentials"]["hasPassword"] is True
    assert (await api.http.get(f"/axon/souls/{soul['id']}", headers=h)).json()["accountIds"] == [account["id"]]
    assert (await api.http.get(f"/axon/proxies/{proxy['id']}", headers=h)).json()["assignedAccountIds"] == [
        account["id"]
    ]
    revealed = await api.http.post(f"/axon/accounts/{account['id']}/credentials/reveal", headers=h)
    assert revealed.json()["credentials"] == {"password": "fs-pass-1"}
    await _delete_with_cascade(api, h, soul["id"], temporal_client)
    assert (await api.http.get(f"/axon/proxies/{proxy['id']}", headers=h)).json()["assignedAccountIds"] == []


async def test_concurrent_account_edits_of_different_fields_are_all_kept(api: Api) -> None:
    h = (await api.register())["headers"]
    soul = await _soul(api, h, name="Brand")
    account = await _account(api, h, soul["id"], handle="edited_at_once")
    url = f"/axon/accounts/{account['id']}"
    for n in range(1, 6):
        # Two operators at once, each sending only the field they changed.
        answers = await asyncio.gather(
            api.http.patch(url, json={"displayName": f"Name {n}"}, headers=h),
            api.http.patch(url, json={"dailyPostLimit": n}, headers=h),
            api.http.patch(url, json={"metrics": {"followers": n}}, headers=h),
        )
        assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
        stored = (await api.http.get(url, headers=h)).json()
        assert (stored["displayName"], stored["dailyPostLimit"], stored["metrics"]) == (
            f"Name {n}", n, {"followers": n}
        )  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "edits"),
    [
        ("/axon/souls", {"name": "Brand"}, [{"name": "N{n}"}, {"description": "D{n}"}, {"metadata": {"n": "{n}"}}]),
        ("/axon/personas", {"name": "Voice"}, [{"name": "N{n}"}, {"tone": "T{n}"}, {"backstory": "B{n}"}]),
        (
            "/axon/proxies",
            {"name": "Exit", "type": "residential", "protocol": "http", "host": "proxy.example.com", "port": 8080},
            [{"name": "N{n}"}, {"provider": "P{n}"}, {"city": "Y{n}"}],
        ),
    ],
)
async def test_concurrent_edits_of_souls_personas_and_proxies_are_all_kept(
    api: Api, path: str, body: dict[str, Any], edits: list[dict[str, Any]]
) -> None:
    h = (await api.register())["headers"]
    created = await api.http.post(path, json=body, headers=h)
    assert created.status_code == 201, created.text
    url = f"{path}/{created.json()['id']}"

    def filled(edit: dict[str, Any], n: int) -> dict[str, Any]:
        return {k: ({"n": str(n)} if isinstance(v, dict) else v.format(n=n)) for k, v in edit.items()}

    for n in range(1, 6):
        answers = await asyncio.gather(*(api.http.patch(url, json=filled(e, n), headers=h) for e in edits))
        assert [a.status_code for a in answers] == [200] * len(edits), [a.text for a in answers]
        stored = (await api.http.get(url, headers=h)).json()
        for edit in edits:
            for key, value in filled(edit, n).items():
                assert stored[key] == value, (key, stored)


async def test_a_proxy_assignment_and_an_edit_at_once_are_both_kept(api: Api) -> None:
    h = (await api.register())["headers"]
    soul = await _soul(api, h, name="Brand")
    account = await _account(api, h, soul["id"], handle="assigned_now")
    proxies = [(await _proxy(api, h, name=f"P{i}"))["id"] for i in range(5)]
    url = f"/axon/accounts/{account['id']}"
    for n, proxy_id in enumerate(proxies):
        requests = [
            api.http.patch(f"{url}/proxy", json={"proxyId": proxy_id}, headers=h),
            api.http.patch(url, json={"displayName": f"Name {n}"}, headers=h),
        ]
        answers = await asyncio.gather(*(requests if n % 2 else reversed(requests)))  # either may read first
        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        stored = (await api.http.get(url, headers=h)).json()
        assert (stored["proxyId"], stored["displayName"]) == (proxy_id, f"Name {n}")
        assigned = (await api.http.get(f"/axon/proxies/{proxy_id}", headers=h)).json()["assignedAccountIds"]
        assert assigned == [account["id"]]


# Free-form JSON some store would refuse or alter (Firestore is the strictest): empty and reserved keys, integers a
# browser cannot read exactly, arrays directly in arrays, numbers that are not finite (Python's JSON parser takes
# NaN), more than 20 levels.
def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"v": 1}
    for _ in range(levels):
        value = {"in": value}
    return value


UNSTORABLE: list[tuple[dict[str, Any], str]] = [
    ({"": 1}, "key ''"),
    ({"tier": {"": True}}, "key ''"),
    ({"__name__": 1}, "key '__name__'"),
    ({"big": 2**53}, "the integers JSON readers keep exactly"),
    ({"grid": [[1, 2], [3, 4]]}, "array may not hold another array"),
    (_nested(20), "20 levels deep"),  # 21 objects
]  # fmt: skip


@pytest.mark.parametrize("store", ["sql", "firestore"])
async def test_free_form_json_any_store_would_refuse_is_422_naming_the_field(
    api_factory: Any, firestore_emulator: Any, firestore_store_factory: Any, store: str
) -> None:
    """On Firestore, an empty key was a 500 (the client refuses the field path), and so was an integer past 2**53."""
    if store == "firestore":
        await firestore_store_factory()
        api = await api_factory(document_store="firestore", firestore_emulator_host=firestore_emulator.host)
    else:
        api = await api_factory()
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    for metadata, reason in UNSTORABLE:
        created = await api.http.post("/axon/souls", json={"name": "Odd", "metadata": metadata}, headers=h)
        assert created.status_code == 422, (metadata, created.text)
        assert created.json()["errors"][0]["field"] == "metadata"
        assert reason in created.json()["detail"]
        patched = await api.http.patch("/axon/personas/none", json={"personality": metadata}, headers=h)
        assert (patched.status_code, patched.json()["errors"][0]["field"]) == (422, "personality")
    nan = b'{"name": "Odd", "metadata": {"score": NaN}}'
    created = await api.http.post("/axon/souls", content=nan, headers={**h, "content-type": "application/json"})
    assert created.status_code == 422
    assert "finite" in created.json()["detail"]
    fine = {
        "deep": _nested(18),
        "tier": "gold",
        "tags": ["a", "b"],
        "n": 2**53 - 1,
        "rows": [{"cells": [1, 2]}],
        "__note": "kept",
    }
    edited = await api.http.patch(f"/axon/souls/{soul['id']}", json={"metadata": fine}, headers=h)
    assert edited.status_code == 200, edited.text
    assert (await api.http.get(f"/axon/souls/{soul['id']}", headers=h)).json()["metadata"] == fine


async def test_an_account_read_again_answers_its_changes_at_once(api: Api) -> None:
    """Reads of an unchanged account share one rendering (api.rendered); any change, through the API or around it,
    shows in the very next read."""
    h = (await api.register())["headers"]
    soul = await _soul(api, h)
    account = await _account(api, h, soul["id"], metrics={"followers": 1})
    url = f"/axon/accounts/{account['id']}"
    first = await api.http.get(url, headers=h)
    assert (await api.http.get(url, headers=h)).content == first.content
    assert first.json() == account
    changed = await api.http.patch(url, headers=h, json={"displayName": "Renamed", "metrics": {"followers": 2}})
    assert changed.status_code == 200
    assert (await api.http.get(url, headers=h)).json() == changed.json()
    soul_url = f"/axon/souls/{soul['id']}"
    before = (await api.http.get(soul_url, headers=h)).json()
    assert (await api.http.patch(soul_url, headers=h, json={"description": "New words"})).status_code == 200
    after = (await api.http.get(soul_url, headers=h)).json()
    assert after == {**before, "description": "New words", "updatedAt": after["updatedAt"]}
    assert after["updatedAt"] != before["updatedAt"]
