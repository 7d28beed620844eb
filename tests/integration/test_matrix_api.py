"""The Matrix endpoints: mappings between souls and integrations, one primary per soul and platform. Every test runs
with souls and accounts in SQL and on the Firestore emulator (the mappings always live in SQL)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from adapters.sql.channels import MAPPING
from domain.channels.integrations import Integration
from domain.clock import utcnow
from domain.identity.platforms import Platform
from tests.conftest import Api
from tests.support.document_stores import api as _api
from tests.support.document_stores import document_settings as _document_settings

api, document_settings = _api, _document_settings


async def _org(api: Api) -> tuple[dict[str, str], str]:
    h = (await api.register())["headers"]
    org = (await api.http.get("/auth/me", headers=h)).json()["organization"]["id"]
    return h, org


async def _integration(api: Api, org: str, platform: Platform = Platform.X, **kw: Any) -> str:
    now = utcnow()
    integration = Integration(
        id=str(uuid.uuid4()),
        organization_id=org,
        provider_identifier=platform,
        internal_id=uuid.uuid4().hex,
        name=f"{platform.value} channel",
        created_at=now,
        updated_at=now,
        **kw,
    )
    async with api.container.uow() as uow:
        await uow.integrations.add(integration)
        await uow.commit()
    return integration.id


async def _soul(api: Api, h: dict[str, str], name: str = "Brand") -> str:
    soul_id: str = (await api.http.post("/axon/souls", json={"name": name}, headers=h)).json()["id"]
    return soul_id


async def _map(api: Api, h: dict[str, str], soul: str, integration: str, **kw: Any) -> Any:
    return await api.http.post(
        "/axon/matrix/mappings", json={"soulId": soul, "integrationId": integration, **kw}, headers=h
    )


async def _primaries(api: Api, soul_id: str) -> int:
    async with api.container.engine.connect() as conn:
        stmt = select(func.count()).select_from(MAPPING).where(MAPPING.c.soul_id == soul_id, MAPPING.c.is_primary)
        return int((await conn.execute(stmt)).scalar_one())


async def test_first_mapping_per_platform_is_primary_and_set_primary_demotes_the_other(api: Api) -> None:
    h, org = await _org(api)
    soul = await _soul(api, h)
    x1, x2 = await _integration(api, org), await _integration(api, org)
    first = (await _map(api, h, soul, x1, priority=5, notes="main")).json()
    second = (await _map(api, h, soul, x2)).json()
    assert (first["isPrimary"], second["isPrimary"]) == (True, False)
    assert first["platform"] == "x"
    promoted = await api.http.post(f"/axon/matrix/mappings/{second['id']}/primary", headers=h)
    assert promoted.json()["isPrimary"] is True
    channels = (await api.http.get(f"/axon/matrix/souls/{soul}/integrations", headers=h)).json()["channels"]
    assert {c["mapping"]["id"]: c["mapping"]["isPrimary"] for c in channels} == {first["id"]: False, second["id"]: True}
    assert await _primaries(api, soul) == 1
    explicit = (await _map(api, h, soul, await _integration(api, org), isPrimary=True)).json()
    assert explicit["isPrimary"] is True
    assert await _primaries(api, soul) == 1


async def test_set_primary_keeps_other_platforms_and_a_patch_can_promote_with_other_fields(api: Api) -> None:
    h, org = await _org(api)
    soul = await _soul(api, h)
    x1, x2 = await _integration(api, org), await _integration(api, org)
    ig = await _integration(api, org, Platform.INSTAGRAM)
    first, second = (await _map(api, h, soul, x1)).json(), (await _map(api, h, soul, x2)).json()
    on_ig = (await _map(api, h, soul, ig)).json()
    patched = await api.http.patch(
        f"/axon/matrix/mappings/{second['id']}", json={"isPrimary": True, "priority": 7, "notes": "now"}, headers=h
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["isPrimary"], patched.json()["priority"], patched.json()["notes"]) == (True, 7, "now")
    assert patched.json()["updatedAt"] > second["updatedAt"]
    channels = (await api.http.get(f"/axon/matrix/souls/{soul}/integrations", headers=h)).json()["channels"]
    primary = {c["mapping"]["id"]: c["mapping"]["isPrimary"] for c in channels}
    # The soul's primary on another platform is not a rival: only X's primary moved.
    assert primary == {first["id"]: False, second["id"]: True, on_ig["id"]: True}
    again = await api.http.post(f"/axon/matrix/mappings/{second['id']}/primary", headers=h)
    assert (again.status_code, again.json()["isPrimary"]) == (200, True)
    assert await _primaries(api, soul) == 2
    missing = await api.http.post("/axon/matrix/mappings/no-such-mapping/primary", headers=h)
    assert missing.status_code == 404


async def test_one_mapping_per_soul_and_integration(api: Api) -> None:
    h, org = await _org(api)
    soul, integration = await _soul(api, h), await _integration(api, org)
    assert (await _map(api, h, soul, integration)).status_code == 201
    again = await _map(api, h, soul, integration)
    assert again.status_code == 409
    assert again.json()["code"] == "mapping_exists"


async def test_toggle_maps_then_unmaps(api: Api) -> None:
    h, org = await _org(api)
    soul, integration = await _soul(api, h), await _integration(api, org)
    body = {"soulId": soul, "integrationId": integration}
    on = (await api.http.post("/axon/matrix/mappings/toggle", json=body, headers=h)).json()
    assert on["mapped"] is True
    assert on["mapping"]["isPrimary"] is True
    off = (await api.http.post("/axon/matrix/mappings/toggle", json=body, headers=h)).json()
    assert off == {"mapped": False, "mapping": None}
    assert (await api.http.get(f"/axon/matrix/souls/{soul}/integrations", headers=h)).json()["channels"] == []


async def test_bulk_is_all_or_nothing_with_a_result_per_item(api: Api) -> None:
    h, org = await _org(api)
    soul, other = await _soul(api, h, "A"), await _soul(api, h, "B")
    x, li = await _integration(api, org), await _integration(api, org, Platform.LINKEDIN)
    failing = {
        "operations": [
            {"op": "create", "soulId": soul, "integrationId": x},
            {"op": "create", "soulId": other, "integrationId": "no-such-integration"},
            {"op": "create", "soulId": soul, "integrationId": li},
        ]
    }
    response = await api.http.post("/axon/matrix/mappings/bulk", json=failing, headers=h)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [r["status"] for r in response.json()["results"]] == ["created", "failed", "not_run"]
    assert response.json()["results"][1]["error"]["code"] == "integration_not_found"
    assert (await api.http.get(f"/axon/matrix/souls/{soul}/integrations", headers=h)).json()["channels"] == []

    ok = {
        "operations": [
            {"op": "create", "soulId": soul, "integrationId": x},
            {"op": "toggle", "soulId": other, "integrationId": x},
            {"op": "toggle", "soulId": soul, "integrationId": li},
            {"op": "delete", "soulId": other, "integrationId": li},
        ]
    }
    done = await api.http.post("/axon/matrix/mappings/bulk", json=ok, headers=h)
    assert done.status_code == 200
    assert [r["status"] for r in done.json()] == ["created", "created", "created", "unchanged"]
    toggled_off = await api.http.post(
        "/axon/matrix/mappings/bulk",
        headers=h,
        json={"operations": [{"op": "toggle", "soulId": other, "integrationId": x}]},
    )
    assert [r["status"] for r in toggled_off.json()] == ["deleted"]


async def test_matrix_view_pages_souls_and_filters_integrations(api: Api) -> None:
    h, org = await _org(api)
    souls = [await _soul(api, h, f"Soul {i}") for i in range(3)]
    x = await _integration(api, org)
    stale = await _integration(api, org, Platform.INSTAGRAM, refresh_needed=True)
    await _map(api, h, souls[0], x)
    await _map(api, h, souls[0], stale)
    await _map(api, h, souls[2], x)
    page = (await api.http.get("/axon/matrix", params={"limit": 2}, headers=h)).json()
    assert [s["id"] for s in page["souls"]] == souls[:2]
    assert {i["id"] for i in page["integrations"]} == {x, stale}
    assert len(page["souls"][0]["mappings"]) == 2
    assert page["nextCursor"]
    rest = (await api.http.get("/axon/matrix", params={"limit": 2, "cursor": page["nextCursor"]}, headers=h)).json()
    assert [s["id"] for s in rest["souls"]] == souls[2:]
    connected = (await api.http.get("/axon/matrix", params={"connectedOnly": "true"}, headers=h)).json()
    assert [i["id"] for i in connected["integrations"]] == [x]
    assert [len(s["mappings"]) for s in connected["souls"]] == [1, 0, 1]
    only_ig = (await api.http.get("/axon/matrix", params={"platform": "instagram"}, headers=h)).json()
    assert [i["status"] for i in only_ig["integrations"]] == ["refresh_needed"]
    searched = (await api.http.get("/axon/matrix", params={"search": "soul 1"}, headers=h)).json()
    assert [s["id"] for s in searched["souls"]] == [souls[1]]
    by_integration = (await api.http.get(f"/axon/matrix/integrations/{x}/souls", headers=h)).json()
    assert [s["soul"]["id"] for s in by_integration["souls"]] == [souls[0], souls[2]]


async def test_mapping_update_checks_the_account(api: Api) -> None:
    h, org = await _org(api)
    soul, x = await _soul(api, h), await _integration(api, org)
    mapping = (await _map(api, h, soul, x)).json()
    x_account = (
        await api.http.post("/axon/accounts", json={"soulId": soul, "platform": "x", "handle": "brand"}, headers=h)
    ).json()
    ig_account = (
        await api.http.post(
            "/axon/accounts", json={"soulId": soul, "platform": "instagram", "handle": "brand"}, headers=h
        )
    ).json()
    updated = await api.http.patch(
        f"/axon/matrix/mappings/{mapping['id']}",
        headers=h,
        json={"priority": 3, "notes": "weekday posts", "accountId": x_account["id"]},
    )
    assert (updated.json()["priority"], updated.json()["accountId"]) == (3, x_account["id"])
    wrong = await api.http.patch(
        f"/axon/matrix/mappings/{mapping['id']}", json={"accountId": ig_account["id"]}, headers=h
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "accountId"
    assert (await api.http.delete(f"/axon/matrix/mappings/{mapping['id']}", headers=h)).status_code == 204
    assert (await api.http.delete(f"/axon/matrix/mappings/{mapping['id']}", headers=h)).status_code == 404


async def test_other_organizations_and_unknown_references(api: Api) -> None:
    h, org = await _org(api)
    theirs, their_org = await _org(api)
    soul, x = await _soul(api, h), await _integration(api, org)
    their_soul, their_x = await _soul(api, theirs), await _integration(api, their_org)
    their_mapping = (await _map(api, theirs, their_soul, their_x)).json()
    for method, path in (
        ("PATCH", f"/axon/matrix/mappings/{their_mapping['id']}"),
        ("DELETE", f"/axon/matrix/mappings/{their_mapping['id']}"),
        ("POST", f"/axon/matrix/mappings/{their_mapping['id']}/primary"),
        ("GET", f"/axon/matrix/souls/{their_soul}/integrations"),
        ("GET", f"/axon/matrix/integrations/{their_x}/souls"),
    ):
        response = await api.http.request(method, path, json={"notes": "x"} if method == "PATCH" else None, headers=h)
        assert response.status_code == 404, (method, path)
    cross = await _map(api, h, soul, their_x)
    assert cross.status_code == 422
    assert cross.json()["errors"][0]["field"] == "integrationId"
    unknown_soul = await _map(api, h, their_soul, x)
    assert unknown_soul.status_code == 422
    assert unknown_soul.json()["errors"][0]["field"] == "soulId"
    assert [i["id"] for i in (await api.http.get("/integrations/list", headers=h)).json()] == [x]


async def test_linking_an_account_to_its_channel_fills_the_mappings(api: Api) -> None:
    h, org = await _org(api)
    soul, other_soul = await _soul(api, h, "A"), await _soul(api, h, "B")
    x = await _integration(api, org)
    ig = await _integration(api, org, Platform.INSTAGRAM)
    mapping = (await _map(api, h, soul, x)).json()
    other_mapping = (await _map(api, h, other_soul, x)).json()
    account = (
        await api.http.post("/axon/accounts", json={"soulId": soul, "platform": "x", "handle": "brand"}, headers=h)
    ).json()
    second = (
        await api.http.post("/axon/accounts", json={"soulId": soul, "platform": "x", "handle": "brand2"}, headers=h)
    ).json()
    mismatch = await api.http.patch(
        f"/axon/accounts/{account['id']}/integration", json={"integrationId": ig}, headers=h
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["code"] == "platform_mismatch"
    linked = await api.http.patch(f"/axon/accounts/{account['id']}/integration", json={"integrationId": x}, headers=h)
    assert linked.status_code == 200
    assert linked.json()["integrationId"] == x
    channels = (await api.http.get(f"/axon/matrix/integrations/{x}/souls", headers=h)).json()["souls"]
    assert {c["mapping"]["id"]: c["mapping"]["accountId"] for c in channels} == {
        mapping["id"]: account["id"],
        other_mapping["id"]: account["id"],
    }
    taken = await api.http.patch(f"/axon/accounts/{second['id']}/integration", json={"integrationId": x}, headers=h)
    assert taken.status_code == 409
    assert taken.json()["code"] == "integration_already_linked"
    assert taken.json()["blocking"] == {"accountIds": [account["id"]]}
    unlinked = await api.http.patch(
        f"/axon/accounts/{account['id']}/integration", json={"integrationId": None}, headers=h
    )
    assert unlinked.json()["integrationId"] is None
    channels = (await api.http.get(f"/axon/matrix/integrations/{x}/souls", headers=h)).json()["souls"]
    assert [c["mapping"]["accountId"] for c in channels] == [None, None]
    actions = [e["action"] for e in (await api.http.get("/axon/audit-logs", headers=h)).json()["items"]]
    assert actions[:2] == ["account.integration_unlink", "account.integration_link"]
    theirs, their_org = await _org(api)
    their_x = await _integration(api, their_org)
    cross = await api.http.patch(
        f"/axon/accounts/{account['id']}/integration", json={"integrationId": their_x}, headers=h
    )
    assert cross.status_code == 422
    assert (
        await api.http.patch(f"/axon/accounts/{account['id']}/integration", json={"integrationId": x}, headers=theirs)
    ).status_code == 404
