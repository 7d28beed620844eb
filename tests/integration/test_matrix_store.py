"""The Matrix's driver-level paths (adapters/sql/matrix.py): the JSON the database writes for a matrix page, large
pages read in parts, and mapping operations racing each other. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from adapters.sql.channels import MAPPING
from adapters.sql.identity.common import SOUL
from adapters.sql.matrix import SqlMatrixStore
from domain.identity.platforms import Platform
from tests.conftest import Api
from tests.integration.test_matrix_api import _integration, _map, _org, _soul
from tests.support.loop import loop_ticks

TRICKY_NOTES = 'He said "hi"\n\tcafé 😀 \\ </script> \u2028 end'


async def _primaries(api: Api, soul_id: str) -> list[str]:
    async with api.container.engine.connect() as conn:
        stmt = select(MAPPING.c.id).where(MAPPING.c.soul_id == soul_id, MAPPING.c.is_primary)
        return list((await conn.execute(stmt)).scalars())


async def test_the_matrix_writes_each_mapping_as_the_mapping_schema_does(api: Api) -> None:
    h, org = await _org(api)
    soul, x = await _soul(api, h), await _integration(api, org)
    account = (
        await api.http.post("/axon/accounts", json={"soulId": soul, "platform": "x", "handle": "brand"}, headers=h)
    ).json()
    noted = (await _map(api, h, soul, x, notes=TRICKY_NOTES, priority=-7, accountId=account["id"])).json()
    plain = (await _map(api, h, soul, await _integration(api, org))).json()
    # A time on the second exactly: Python's isoformat (and so the API) leaves the fraction out.
    async with api.container.engine.begin() as conn:
        on_the_second = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
        await conn.execute(update(MAPPING).where(MAPPING.c.id == plain["id"]).values(created_at=on_the_second))
    matrix = (await api.http.get("/axon/matrix", headers=h)).json()
    in_matrix = {m["id"]: m for s in matrix["souls"] for m in s["mappings"]}
    channels = (await api.http.get(f"/axon/matrix/souls/{soul}/integrations", headers=h)).json()["channels"]
    by_schema = {c["mapping"]["id"]: c["mapping"] for c in channels}
    assert in_matrix == by_schema
    assert in_matrix[noted["id"]]["notes"] == TRICKY_NOTES
    assert in_matrix[noted["id"]]["accountId"] == account["id"]
    assert in_matrix[plain["id"]]["createdAt"] == "2026-03-01T12:00:00Z"
    # Listed by priority, highest first.
    assert [m["id"] for m in matrix["souls"][0]["mappings"]] == [plain["id"], noted["id"]]


async def test_a_large_page_is_read_in_parts_and_keeps_every_soul_in_order(api: Api) -> None:
    h, org = await _org(api)
    channels = [await _integration(api, org, platform) for platform in (Platform.X, Platform.LINKEDIN, Platform.X)]
    now = datetime.now(UTC)
    souls = [str(uuid.uuid4()) for _ in range(600)]
    async with api.container.engine.begin() as conn:
        await conn.execute(
            insert(SOUL),
            [
                {
                    "id": sid,
                    "organization_id": org,
                    "name": f"S{i}",
                    "name_search": f"s{i}",
                    "status": "active",
                    "metadata": {},
                    "created_at": now + timedelta(microseconds=i),
                    "updated_at": now,
                }
                for i, sid in enumerate(souls)
            ],
        )
        await conn.execute(
            insert(MAPPING),
            [
                {
                    "id": str(uuid.uuid4()),
                    "organization_id": org,
                    "soul_id": sid,
                    "integration_id": iid,
                    "platform": "linkedin" if k == 1 else "x",
                    "is_primary": k < 2,
                    "priority": (i + k) % 3,
                    "created_at": now,
                    "updated_at": now,
                }
                for i, sid in enumerate(souls)
                for k, iid in enumerate(channels[: 1 + i % 3])
            ],
        )
    page = (await api.http.get("/axon/matrix", params={"limit": 600}, headers=h)).json()
    assert [s["id"] for s in page["souls"]] == souls
    for i, soul in enumerate(page["souls"]):
        mapped = channels[: 1 + i % 3]  # priorities differ within a soul: the order is by priority alone
        expected = sorted(mapped, key=lambda iid: -((i + mapped.index(iid)) % 3))
        assert [m["integrationId"] for m in soul["mappings"]] == expected, i
    linkedin_only = (
        await api.http.get("/axon/matrix", params={"limit": 600, "platform": "linkedin"}, headers=h)
    ).json()
    assert sum(len(s["mappings"]) for s in linkedin_only["souls"]) == sum(1 for i in range(600) if i % 3 >= 1)


async def test_an_explicit_primary_on_a_mapped_pair_changes_nothing(api: Api) -> None:
    h, org = await _org(api)
    soul, x1, x2 = await _soul(api, h), await _integration(api, org), await _integration(api, org)
    first = (await _map(api, h, soul, x1)).json()
    await _map(api, h, soul, x2)
    again = await _map(api, h, soul, x2, isPrimary=True)
    assert again.status_code == 409
    assert again.json()["code"] == "mapping_exists"
    assert await _primaries(api, soul) == [first["id"]]  # the demotion went back with the refused insert


async def test_unknown_references_on_toggle_answer_422_in_order(api: Api) -> None:
    h, _ = await _org(api)
    soul = await _soul(api, h)
    body = {"soulId": str(uuid.uuid4()), "integrationId": "no-such-integration"}
    both_unknown = await api.http.post("/axon/matrix/mappings/toggle", json=body, headers=h)
    assert (both_unknown.status_code, both_unknown.json()["errors"][0]["field"]) == (422, "soulId")
    body["soulId"] = soul
    no_channel = await api.http.post("/axon/matrix/mappings/toggle", json=body, headers=h)
    assert (no_channel.status_code, no_channel.json()["code"]) == (422, "integration_not_found")
    async with api.container.engine.connect() as conn:
        count = (
            await conn.execute(select(func.count()).select_from(MAPPING).where(MAPPING.c.soul_id == soul))
        ).scalar()
    assert count == 0


async def test_concurrent_toggles_of_one_pair_agree_with_the_final_state(api: Api) -> None:
    h, org = await _org(api)
    soul, x = await _soul(api, h), await _integration(api, org)
    body = {"soulId": soul, "integrationId": x}
    responses = await asyncio.gather(
        *(api.http.post("/axon/matrix/mappings/toggle", json=body, headers=h) for _ in range(12))
    )
    done: list[dict[str, Any]] = []
    for r in responses:
        assert r.status_code in (200, 409), r.text
        if r.status_code == 409:
            assert r.json()["code"] == "concurrent_change"
        else:
            done.append(r.json())
    mapped = sum(1 for d in done if d["mapped"])
    # Every answered toggle changed the pair once, alternately: one more map than unmap iff it ends mapped.
    assert mapped - (len(done) - mapped) in (0, 1)
    channels = (await api.http.get(f"/axon/matrix/souls/{soul}/integrations", headers=h)).json()["channels"]
    assert len(channels) == mapped - (len(done) - mapped)


async def test_concurrent_set_primary_leaves_exactly_one_primary(api: Api) -> None:
    h, org = await _org(api)
    soul = await _soul(api, h)
    mappings = [(await _map(api, h, soul, await _integration(api, org))).json()["id"] for _ in range(6)]
    responses = await asyncio.gather(
        *(api.http.post(f"/axon/matrix/mappings/{m}/primary", headers=h) for m in mappings)
    )
    # Promotions of one soul and platform take turns: none is refused, and the last one holds.
    assert [r.status_code for r in responses] == [200] * len(mappings)
    assert all(r.json()["isPrimary"] for r in responses)
    primaries = await _primaries(api, soul)
    assert len(primaries) == 1
    assert primaries[0] in mappings


async def test_a_page_without_souls_still_lists_the_channels(api: Api) -> None:
    h, org = await _org(api)
    x = await _integration(api, org)
    empty = await api.http.get("/axon/matrix", headers=h)
    assert empty.status_code == 200
    assert empty.json() == {"souls": [], "integrations": [empty.json()["integrations"][0]], "nextCursor": None}
    assert empty.json()["integrations"][0]["id"] == x
    await _soul(api, h, "Brand")
    no_match = (await api.http.get("/axon/matrix", params={"search": "nobody"}, headers=h)).json()
    assert (no_match["souls"], [i["id"] for i in no_match["integrations"]]) == ([], [x])


# --- SQLite: mapping writes in place (adapters.sql.in_place_writes) ----------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_mapping_writes_run_in_place_when_the_lock_is_free(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, org = await _org(api)
    soul, x1, x2 = await _soul(api, h), await _integration(api, org), await _integration(api, org)

    def no_async_path(self: SqlMatrixStore) -> Any:
        raise AssertionError("a mapping write took the async path with the lock free")

    monkeypatch.setattr(SqlMatrixStore, "_connection", no_async_path)
    toggled = await api.http.post("/axon/matrix/mappings/toggle", json={"soulId": soul, "integrationId": x1}, headers=h)
    assert toggled.status_code == 200, toggled.text
    second = (await _map(api, h, soul, x2)).json()
    refused = await _map(api, h, soul, x2, isPrimary=True)  # demotes, then finds the pair mapped: all rolled back
    assert refused.status_code == 409
    assert await _primaries(api, soul) == [toggled.json()["mapping"]["id"]]
    promoted = await api.http.post(f"/axon/matrix/mappings/{second['id']}/primary", headers=h)
    assert promoted.status_code == 200
    assert await _primaries(api, soul) == [second["id"]]
    assert (await api.http.delete(f"/axon/matrix/mappings/{second['id']}", headers=h)).status_code == 204
    assert await _primaries(api, soul) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sqlite_mapping_write_waits_off_the_loop_while_another_process_holds_the_lock(api: Api) -> None:
    h, org = await _org(api)
    soul, x = await _soul(api, h), await _integration(api, org)
    other = sqlite3.connect(str(api.container.engine.url.database), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's writer, in effect
        async with loop_ticks() as ticks:
            toggle = asyncio.create_task(
                api.http.post("/axon/matrix/mappings/toggle", json={"soulId": soul, "integrationId": x}, headers=h)
            )
            await asyncio.sleep(0.5)
            assert not toggle.done()  # waiting for the lock...
            assert ticks.count >= 20  # ...without stalling the event loop
            other.execute("COMMIT")
            answered = await asyncio.wait_for(toggle, timeout=10)
    finally:
        other.close()
    assert answered.status_code == 200, answered.text
    assert await _primaries(api, soul) == [answered.json()["mapping"]["id"]]
