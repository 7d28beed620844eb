from __future__ import annotations

from tests.conftest import Api


async def _actions(api: Api, headers: dict[str, str], **params: str) -> list[str]:
    response = await api.http.get("/axon/audit-logs", params={"limit": 200, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return [e["action"] for e in response.json()["items"]]


async def test_sensitive_operations_are_audited_newest_first(api: Api) -> None:
    owner = await api.register()
    await api.http.post("/auth/login", json={"email": owner["email"], "password": "wrong password"})
    await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})
    user = (
        await api.http.post(
            "/auth/users",
            json={"email": "m@example.com", "name": "M", "password": "member password 1"},
            headers=owner["headers"],
        )
    ).json()
    await api.http.patch(f"/auth/users/{user['id']}", json={"role": "admin"}, headers=owner["headers"])
    await api.http.delete(f"/auth/users/{user['id']}", headers=owner["headers"])
    key = (await api.http.post("/auth/api-keys", json={"name": "k"}, headers=owner["headers"])).json()
    await api.http.delete(f"/auth/api-keys/{key['id']}", headers=owner["headers"])
    actions = await _actions(api, owner["headers"])
    assert actions == [
        "api_key.delete",
        "api_key.create",
        "user.delete",
        "user.update",
        "user.create",
        "auth.login",
        "auth.login_failed",
        "auth.register",
    ]


async def test_logout_is_audited(api: Api) -> None:
    owner = await api.register()
    second = (await api.http.post("/auth/login", json={"email": owner["email"], "password": owner["password"]})).json()
    await api.http.post("/auth/logout", headers=owner["headers"])
    actions = await _actions(api, {"Authorization": f"Bearer {second['accessToken']}"})
    assert actions[0] == "auth.logout"


async def test_audit_entries_carry_no_secrets(api: Api) -> None:
    owner = await api.register(password="very secret password")
    key = (await api.http.post("/auth/api-keys", json={"name": "k"}, headers=owner["headers"])).json()
    invited = (
        await api.http.post("/auth/users", json={"email": "i@example.com", "name": "I"}, headers=owner["headers"])
    ).json()
    body = (await api.http.get("/axon/audit-logs", params={"limit": 200}, headers=owner["headers"])).text
    for secret in ("very secret password", key["key"], invited["invitationToken"], owner["refreshToken"]):
        assert secret not in body


async def test_filters_by_action_and_actor(api: Api) -> None:
    owner = await api.register()
    me = (await api.http.get("/auth/me", headers=owner["headers"])).json()
    key = (await api.http.post("/auth/api-keys", json={"name": "k", "role": "admin"}, headers=owner["headers"])).json()
    await api.http.post(
        "/auth/users",
        json={"email": "viakey@example.com", "name": "K", "password": "member password 1"},
        headers={"X-API-Key": key["key"]},
    )
    assert await _actions(api, owner["headers"], action="user.create") == ["user.create"]
    by_key = (await api.http.get("/axon/audit-logs", params={"actorId": key["id"]}, headers=owner["headers"])).json()
    assert [(e["actorType"], e["action"]) for e in by_key["items"]] == [("api_key", "user.create")]
    by_owner = await _actions(api, owner["headers"], actorId=me["id"])
    assert "user.create" not in by_owner
    assert "api_key.create" in by_owner


async def test_pages_through_the_log_without_gaps(api: Api) -> None:
    owner = await api.register()
    for i in range(7):
        await api.http.post("/auth/api-keys", json={"name": f"k{i}"}, headers=owner["headers"])
    all_ids = [
        e["id"]
        for e in (await api.http.get("/axon/audit-logs", params={"limit": 200}, headers=owner["headers"])).json()[
            "items"
        ]
    ]
    paged: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await api.http.get("/axon/audit-logs", params=params, headers=owner["headers"])).json()
        paged += [e["id"] for e in page["items"]]
        if not (cursor := page["nextCursor"]):
            break
    assert paged == all_ids
    assert len(all_ids) == 8


async def test_members_cannot_read_the_log_and_organizations_see_only_their_own(api: Api) -> None:
    acme = await api.register(org="Acme")
    globex = await api.register(org="Globex")
    await api.http.post("/auth/api-keys", json={"name": "globex key"}, headers=globex["headers"])
    acme_entries = (await api.http.get("/axon/audit-logs", headers=acme["headers"])).json()["items"]
    assert [e["action"] for e in acme_entries] == ["auth.register"]
    member = await api.http.post(
        "/auth/users",
        json={"email": "mem@example.com", "name": "M", "password": "member password 1"},
        headers=acme["headers"],
    )
    tokens = (
        await api.http.post("/auth/login", json={"email": member.json()["email"], "password": "member password 1"})
    ).json()
    response = await api.http.get("/axon/audit-logs", headers={"Authorization": f"Bearer {tokens['accessToken']}"})
    assert response.status_code == 403
