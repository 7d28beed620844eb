from __future__ import annotations

from typing import Any

from tests.conftest import Api


async def _add(
    api: Api,
    headers: dict[str, str],
    role: str = "member",
    password: str | None = "member password 1",
    email: str | None = None,
) -> Any:
    import uuid

    body: dict[str, Any] = {
        "email": email or f"u-{uuid.uuid4().hex[:8]}@example.com",
        "name": "Member",
        "role": role,
    }
    if password:
        body["password"] = password
    return await api.http.post("/auth/users", json=body, headers=headers)


async def _login(api: Api, email: str, password: str) -> dict[str, str]:
    tokens = (await api.http.post("/auth/login", json={"email": email, "password": password})).json()
    return {"Authorization": f"Bearer {tokens['accessToken']}"}


async def test_owner_adds_a_member_who_can_sign_in(api: Api) -> None:
    owner = await api.register()
    created = await _add(api, owner["headers"])
    assert created.status_code == 201
    user = created.json()
    assert user["role"] == "member"
    assert user["invitationToken"] is None
    member = await _login(api, user["email"], "member password 1")
    me = (await api.http.get("/auth/me", headers=member)).json()
    assert (
        me["organization"]["id"]
        == (await api.http.get("/auth/me", headers=owner["headers"])).json()["organization"]["id"]
    )


async def test_invited_user_accepts_and_signs_in(api: Api) -> None:
    owner = await api.register()
    invited = (await _add(api, owner["headers"], password=None)).json()
    assert invited["invited"] is True
    token = invited["invitationToken"]
    assert token
    accept = await api.http.post(
        "/auth/invitations/accept", json={"token": token, "password": "my own password", "name": "Invitee"}
    )
    assert accept.status_code == 200
    again = await api.http.post("/auth/invitations/accept", json={"token": token, "password": "my own password"})
    assert again.status_code == 401
    listed = (await api.http.get(f"/auth/users/{invited['id']}", headers=owner["headers"])).json()
    assert listed["invited"] is False
    assert listed["name"] == "Invitee"
    assert "invitationToken" not in listed


async def test_member_cannot_add_users(api: Api) -> None:
    owner = await api.register()
    member_user = (await _add(api, owner["headers"])).json()
    member = await _login(api, member_user["email"], "member password 1")
    response = await _add(api, member)
    assert response.status_code == 403
    assert response.json()["code"] == "role_required"


async def test_admin_adds_members_but_not_admins_or_owners(api: Api) -> None:
    owner = await api.register()
    admin_user = (await _add(api, owner["headers"], role="admin")).json()
    admin = await _login(api, admin_user["email"], "member password 1")
    assert (await _add(api, admin, role="member")).status_code == 201
    assert (await _add(api, admin, role="admin")).status_code == 403
    assert (await _add(api, admin, role="owner")).status_code == 403


async def test_role_change_takes_effect_on_the_next_request(api: Api) -> None:
    owner = await api.register()
    user = (await _add(api, owner["headers"])).json()
    member = await _login(api, user["email"], "member password 1")
    assert (await api.http.get("/axon/audit-logs", headers=member)).status_code == 403
    patched = await api.http.patch(f"/auth/users/{user['id']}", json={"role": "admin"}, headers=owner["headers"])
    assert patched.status_code == 200
    assert (await api.http.get("/axon/audit-logs", headers=member)).status_code == 200


async def test_last_owner_cannot_be_demoted_or_deleted(api: Api) -> None:
    owner = await api.register()
    me = (await api.http.get("/auth/me", headers=owner["headers"])).json()
    demote = await api.http.patch(f"/auth/users/{me['id']}", json={"role": "admin"}, headers=owner["headers"])
    assert demote.status_code == 409
    assert demote.json()["code"] == "last_owner"
    second = (await _add(api, owner["headers"], role="owner")).json()
    delete = await api.http.delete(f"/auth/users/{second['id']}", headers=owner["headers"])
    assert delete.status_code == 204


async def test_users_can_rename_themselves_but_not_promote_themselves(api: Api) -> None:
    owner = await api.register()
    user = (await _add(api, owner["headers"])).json()
    member = await _login(api, user["email"], "member password 1")
    assert (await api.http.patch(f"/auth/users/{user['id']}", json={"name": "New"}, headers=member)).status_code == 200
    assert (
        await api.http.patch(f"/auth/users/{user['id']}", json={"role": "owner"}, headers=member)
    ).status_code == 403


async def test_deactivated_user_loses_access_immediately(api: Api) -> None:
    owner = await api.register()
    user = (await _add(api, owner["headers"])).json()
    member = await _login(api, user["email"], "member password 1")
    await api.http.patch(f"/auth/users/{user['id']}", json={"isActive": False}, headers=owner["headers"])
    assert (await api.http.get("/auth/me", headers=member)).status_code == 401
    login = await api.http.post("/auth/login", json={"email": user["email"], "password": "member password 1"})
    assert login.status_code == 401


async def test_another_organizations_users_answer_404(api: Api) -> None:
    acme = await api.register(org="Acme")
    globex = await api.register(org="Globex")
    theirs = (await _add(api, globex["headers"])).json()
    for method, body in (("GET", None), ("PATCH", {"name": "x"}), ("DELETE", None)):
        response = await api.http.request(method, f"/auth/users/{theirs['id']}", headers=acme["headers"], json=body)
        assert response.status_code == 404, method
        assert response.json()["code"] == "user_not_found"
    listed = (await api.http.get("/auth/users", headers=acme["headers"])).json()
    assert theirs["id"] not in {u["id"] for u in listed["items"]}


async def test_user_list_pages_in_a_stable_order(api: Api) -> None:
    owner = await api.register()
    for _ in range(5):
        await _add(api, owner["headers"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await api.http.get("/auth/users", params=params, headers=owner["headers"])).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6
    full = (await api.http.get("/auth/users", params={"limit": 50}, headers=owner["headers"])).json()
    assert [u["id"] for u in full["items"]] == seen
