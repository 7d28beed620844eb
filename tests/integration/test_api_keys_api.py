from __future__ import annotations

from tests.conftest import Api


async def test_api_key_is_shown_once_and_authenticates(api: Api) -> None:
    owner = await api.register()
    created = await api.http.post("/auth/api-keys", json={"name": "ci bot", "role": "admin"}, headers=owner["headers"])
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"])
    listed = await api.http.get("/auth/api-keys", headers=owner["headers"])
    assert key not in listed.text
    assert listed.json()["items"][0]["name"] == "ci bot"
    me = await api.http.get("/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200
    assert me.json()["actorType"] == "api_key"
    assert me.json()["role"] == "admin"


async def test_deleted_api_key_is_rejected(api: Api) -> None:
    owner = await api.register()
    created = (await api.http.post("/auth/api-keys", json={"name": "temp"}, headers=owner["headers"])).json()
    assert (await api.http.delete(f"/auth/api-keys/{created['id']}", headers=owner["headers"])).status_code == 204
    response = await api.http.get("/auth/me", headers={"X-API-Key": created["key"]})
    assert response.status_code == 401
    assert response.json()["code"] == "api_key_invalid"


async def test_wrong_api_key_with_a_real_prefix_is_rejected(api: Api) -> None:
    owner = await api.register()
    created = (await api.http.post("/auth/api-keys", json={"name": "k"}, headers=owner["headers"])).json()
    forged = created["key"][:-4] + "AAAA"
    assert (await api.http.get("/auth/me", headers={"X-API-Key": forged})).status_code == 401


async def test_member_key_cannot_do_admin_things_and_no_key_can_be_owner(api: Api) -> None:
    owner = await api.register()
    assert (
        await api.http.post("/auth/api-keys", json={"name": "x", "role": "owner"}, headers=owner["headers"])
    ).status_code == 403
    member_key = (await api.http.post("/auth/api-keys", json={"name": "m"}, headers=owner["headers"])).json()["key"]
    response = await api.http.get("/axon/audit-logs", headers={"X-API-Key": member_key})
    assert response.status_code == 403


async def test_another_organizations_key_answers_404(api: Api) -> None:
    acme = await api.register(org="Acme")
    globex = await api.register(org="Globex")
    theirs = (await api.http.post("/auth/api-keys", json={"name": "g"}, headers=globex["headers"])).json()
    response = await api.http.delete(f"/auth/api-keys/{theirs['id']}", headers=acme["headers"])
    assert response.status_code == 404
    assert (await api.http.get("/auth/me", headers={"X-API-Key": theirs["key"]})).status_code == 200
