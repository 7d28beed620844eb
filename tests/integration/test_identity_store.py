"""The document-store contract, run against every implementation (SQLite, PostgreSQL, Firestore emulator)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.errors import NotFound
from domain.identity.accounts import AccountFilter, AccountStatus
from domain.identity.platforms import Platform
from domain.identity.ports import (
    DocumentStore,
    DuplicateHandle,
    IntegrationLinked,
    InUse,
    RecordChanged,
    ReferenceNotFound,
)
from domain.identity.proxies import HealthRules, HealthStatus, HealthUpdate, ProxyFilter
from domain.identity.souls import SoulFilter, SoulStatus
from domain.pagination import PageRequest
from tests.support import identity as make

ORG = "org-a"
OTHER = "org-b"


async def assert_back_references_consistent(store: DocumentStore, org: str) -> None:
    accounts = (await store.accounts.find(org, AccountFilter(), PageRequest(limit=200))).items
    for soul in (await store.souls.find(org, SoulFilter(), PageRequest(limit=200))).items:
        assert sorted(soul.account_ids) == sorted(a.id for a in accounts if a.soul_id == soul.id)
    for proxy in (await store.proxies.find(org, ProxyFilter(), PageRequest(limit=200))).items:
        assert sorted(proxy.assigned_account_ids) == sorted(a.id for a in accounts if a.proxy_id == proxy.id)


async def test_soul_round_trip_and_isolation(document_store: DocumentStore) -> None:
    persona = make.persona(ORG)
    await document_store.personas.add(persona)
    soul = make.soul(ORG, "Acme Coffee", persona_id=persona.id, metadata={"tier": "gold", "tags": ["a"]})
    await document_store.souls.add(soul)
    assert await document_store.souls.get(ORG, soul.id) == soul
    assert await document_store.souls.get(OTHER, soul.id) is None


async def test_soul_references_must_exist_in_the_organization(document_store: DocumentStore) -> None:
    foreign = make.persona(OTHER)
    await document_store.personas.add(foreign)
    with pytest.raises(ReferenceNotFound) as info:
        await document_store.souls.add(make.soul(ORG, persona_id=foreign.id))
    assert info.value.field == "personaId"
    with pytest.raises(ReferenceNotFound):
        await document_store.souls.add(make.soul(ORG, proxy_id="no-such-proxy"))
    assert (await document_store.souls.find(ORG, SoulFilter(), PageRequest())).items == []


async def test_soul_filters_search_and_pages(document_store: DocumentStore) -> None:
    names = ["Acme Coffee", "Blue Acme", "Coffee House", "acme tea", "Zeta"]
    for i, name in enumerate(names):
        status = SoulStatus.INACTIVE if i == 2 else SoulStatus.ACTIVE
        await document_store.souls.add(make.soul(ORG, name, status=status))
    await document_store.souls.add(make.soul(OTHER, "Acme Elsewhere"))
    found = await document_store.souls.find(ORG, SoulFilter(search="ACME"), PageRequest())
    assert [s.name for s in found.items] == ["Acme Coffee", "Blue Acme", "acme tea"]
    found = await document_store.souls.find(ORG, SoulFilter(search="cof"), PageRequest())
    assert [s.name for s in found.items] == ["Acme Coffee", "Coffee House"]
    inactive = await document_store.souls.find(ORG, SoulFilter(status=SoulStatus.INACTIVE), PageRequest())
    assert [s.name for s in inactive.items] == ["Coffee House"]
    pages, cursor, seen = 0, None, []
    while True:
        from domain.pagination import Cursor

        page = await document_store.souls.find(
            ORG, SoulFilter(), PageRequest(limit=2, after=Cursor.decode(cursor) if cursor else None)
        )
        seen += [s.name for s in page.items]
        pages += 1
        if not (cursor := page.next_cursor):
            break
    assert seen == names
    assert pages == 3


async def test_account_back_references_follow_every_change(document_store: DocumentStore) -> None:
    a, b = make.soul(ORG, "A"), make.soul(ORG, "B")
    p, q = make.proxy(ORG, "P"), make.proxy(ORG, "Q")
    for s in (a, b):
        await document_store.souls.add(s)
    for x in (p, q):
        await document_store.proxies.add(x)
    first = make.account(ORG, a.id, proxy_id=p.id)
    second = make.account(ORG, a.id)
    await document_store.accounts.add(first)
    await document_store.accounts.add(second)
    assert (await document_store.souls.get(ORG, a.id)).account_ids == [first.id, second.id]  # type: ignore[union-attr]
    assert (await document_store.proxies.get(ORG, p.id)).assigned_account_ids == [first.id]  # type: ignore[union-attr]

    moved = first.model_copy(update={"soul_id": b.id, "proxy_id": q.id})
    await document_store.accounts.update(moved)
    assert (await document_store.souls.get(ORG, a.id)).account_ids == [second.id]  # type: ignore[union-attr]
    assert (await document_store.souls.get(ORG, b.id)).account_ids == [first.id]  # type: ignore[union-attr]
    assert (await document_store.proxies.get(ORG, p.id)).assigned_account_ids == []  # type: ignore[union-attr]
    assert (await document_store.proxies.get(ORG, q.id)).assigned_account_ids == [first.id]  # type: ignore[union-attr]
    await assert_back_references_consistent(document_store, ORG)

    await document_store.accounts.delete(ORG, first.id)
    assert (await document_store.souls.get(ORG, b.id)).account_ids == []  # type: ignore[union-attr]
    assert (await document_store.proxies.get(ORG, q.id)).assigned_account_ids == []  # type: ignore[union-attr]
    await assert_back_references_consistent(document_store, ORG)


async def test_an_update_over_a_stale_read_is_refused_and_changes_nothing(document_store: DocumentStore) -> None:
    soul = make.soul(ORG)
    await document_store.souls.add(soul)
    account = make.account(ORG, soul.id, display_name="First")
    await document_store.accounts.add(account)
    read = await document_store.accounts.get(ORG, account.id)
    assert read is not None
    meanwhile = await document_store.accounts.update(
        read.model_copy(update={"display_name": "Meanwhile", "updated_at": make.tick()})
    )
    stale = read.model_copy(update={"status": AccountStatus.INACTIVE, "updated_at": make.tick()})
    with pytest.raises(RecordChanged):
        await document_store.accounts.update(stale, expected_updated_at=read.updated_at)
    assert await document_store.accounts.get(ORG, account.id) == meanwhile
    fresh = meanwhile.model_copy(update={"status": AccountStatus.INACTIVE, "updated_at": make.tick()})
    done = await document_store.accounts.update(fresh, expected_updated_at=meanwhile.updated_at)
    assert (done.display_name, done.status) == ("Meanwhile", AccountStatus.INACTIVE)
    assert await document_store.accounts.get(ORG, account.id) == done
    gone = make.account(ORG, soul.id)
    with pytest.raises(NotFound):
        await document_store.accounts.update(gone, expected_updated_at=gone.updated_at)


async def test_soul_persona_and_proxy_replaces_over_a_stale_read_are_refused(document_store: DocumentStore) -> None:
    """The same version check for every aggregate the API edits by read-then-replace."""
    persona = make.persona(ORG, "Voice")
    await document_store.personas.add(persona)
    soul = make.soul(ORG, "Brand")
    await document_store.souls.add(soul)
    proxy = make.proxy(ORG, "Exit")
    await document_store.proxies.add(proxy)
    cases: list[tuple[Any, Any, str]] = [
        (document_store.souls, soul, "name"),
        (document_store.personas, persona, "name"),
        (document_store.proxies, proxy, "name"),
    ]
    for repo, record, field in cases:
        read = await repo.get(ORG, record.id)
        meanwhile = await repo.update(read.model_copy(update={field: "Meanwhile", "updated_at": make.tick()}))
        stale = read.model_copy(update={field: "Stale", "updated_at": make.tick()})
        with pytest.raises(RecordChanged):
            await repo.update(stale, expected_updated_at=read.updated_at)
        assert getattr(await repo.get(ORG, record.id), field) == "Meanwhile"
        fresh = meanwhile.model_copy(update={field: "Fresh", "updated_at": make.tick()})
        await repo.update(fresh, expected_updated_at=meanwhile.updated_at)
        assert getattr(await repo.get(ORG, record.id), field) == "Fresh"
        with pytest.raises(NotFound):
            await repo.update(record.model_copy(update={"id": "gone"}), expected_updated_at=record.updated_at)


async def test_account_references_and_handles(document_store: DocumentStore) -> None:
    s = make.soul(ORG)
    foreign_soul = make.soul(OTHER)
    await document_store.souls.add(s)
    await document_store.souls.add(foreign_soul)
    with pytest.raises(ReferenceNotFound) as info:
        await document_store.accounts.add(make.account(ORG, foreign_soul.id))
    assert info.value.field == "soulId"
    with pytest.raises(ReferenceNotFound) as info:
        await document_store.accounts.add(make.account(ORG, s.id, proxy_id="missing"))
    assert info.value.field == "proxyId"
    await document_store.accounts.add(make.account(ORG, s.id, handle="acme"))
    with pytest.raises(DuplicateHandle):
        await document_store.accounts.add(make.account(ORG, s.id, handle="acme"))
    await document_store.accounts.add(make.account(ORG, s.id, handle="acme", platform=Platform.THREADS))
    await document_store.accounts.add(make.account(OTHER, foreign_soul.id, handle="acme"))
    assert len((await document_store.souls.get(ORG, s.id)).account_ids) == 2  # type: ignore[union-attr]
    await assert_back_references_consistent(document_store, ORG)


async def test_renaming_to_a_taken_handle_is_refused_and_changes_nothing(document_store: DocumentStore) -> None:
    s = make.soul(ORG)
    await document_store.souls.add(s)
    one, two = make.account(ORG, s.id, handle="one"), make.account(ORG, s.id, handle="two")
    await document_store.accounts.add(one)
    await document_store.accounts.add(two)
    with pytest.raises(DuplicateHandle):
        await document_store.accounts.update(two.model_copy(update={"handle": "one"}))
    assert (await document_store.accounts.get(ORG, two.id)).handle == "two"  # type: ignore[union-attr]
    renamed = await document_store.accounts.update(two.model_copy(update={"handle": "three"}))
    assert renamed.handle == "three"
    await document_store.accounts.add(make.account(ORG, s.id, handle="two"))  # the old handle is free again


async def test_account_filters(document_store: DocumentStore) -> None:
    a, b = make.soul(ORG, "A"), make.soul(ORG, "B")
    await document_store.souls.add(a)
    await document_store.souls.add(b)
    x = make.account(ORG, a.id, platform=Platform.X)
    ig = make.account(ORG, a.id, platform=Platform.INSTAGRAM, status=AccountStatus.WARMING)
    other = make.account(ORG, b.id, platform=Platform.X)
    for acc in (x, ig, other):
        await document_store.accounts.add(acc)

    async def ids(**f: Any) -> list[str]:
        page = await document_store.accounts.find(ORG, AccountFilter(**f), PageRequest())
        return [acc.id for acc in page.items]

    assert await ids(soul_id=a.id) == [x.id, ig.id]
    assert await ids(platform=Platform.X) == [x.id, other.id]
    assert await ids(status=AccountStatus.WARMING) == [ig.id]
    assert await ids(soul_id=a.id, platform=Platform.X) == [x.id]


async def test_deleting_a_soul_with_accounts_needs_cascade(document_store: DocumentStore) -> None:
    s, p = make.soul(ORG), make.proxy(ORG)
    await document_store.souls.add(s)
    await document_store.proxies.add(p)
    acc = make.account(ORG, s.id, proxy_id=p.id)
    await document_store.accounts.add(acc)
    with pytest.raises(InUse) as info:
        await document_store.souls.delete(ORG, s.id, cascade=False)
    assert info.value.extra["blocking"] == {"accountIds": [acc.id]}
    assert await document_store.souls.get(ORG, s.id) is not None
    assert await document_store.souls.delete(ORG, s.id, cascade=True) == [acc.id]
    assert await document_store.souls.get(ORG, s.id) is None
    assert await document_store.accounts.get(ORG, acc.id) is None
    assert (await document_store.proxies.get(ORG, p.id)).assigned_account_ids == []  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await document_store.souls.delete(ORG, s.id, cascade=True)


async def test_deleting_a_proxy_in_use_needs_unassign(document_store: DocumentStore) -> None:
    p = make.proxy(ORG)
    await document_store.proxies.add(p)
    s = make.soul(ORG, proxy_id=p.id)
    await document_store.souls.add(s)
    acc = make.account(ORG, s.id, proxy_id=p.id)
    await document_store.accounts.add(acc)
    with pytest.raises(InUse) as info:
        await document_store.proxies.delete(ORG, p.id, unassign=False)
    assert info.value.extra["blocking"] == {"accountIds": [acc.id], "soulIds": [s.id]}
    assert await document_store.proxies.delete(ORG, p.id, unassign=True) == [acc.id]
    assert (await document_store.accounts.get(ORG, acc.id)).proxy_id is None  # type: ignore[union-attr]
    assert (await document_store.souls.get(ORG, s.id)).proxy_id is None  # type: ignore[union-attr]
    await assert_back_references_consistent(document_store, ORG)


async def test_deleting_a_persona_in_use_needs_unassign(document_store: DocumentStore) -> None:
    persona = make.persona(ORG)
    await document_store.personas.add(persona)
    s = make.soul(ORG, persona_id=persona.id)
    await document_store.souls.add(s)
    with pytest.raises(InUse):
        await document_store.personas.delete(ORG, persona.id, unassign=False)
    assert await document_store.personas.delete(ORG, persona.id, unassign=True) == [s.id]
    assert (await document_store.souls.get(ORG, s.id)).persona_id is None  # type: ignore[union-attr]


async def test_persona_round_trip(document_store: DocumentStore) -> None:
    persona = make.persona(
        ORG,
        tone="warm",
        timezone="Asia/Manila",
        demographics={"age": 29},
        content_themes=["coffee", "travel"],
        language_preferences=["en", "fil"],
        activity_schedule={"weekdays": ["09:00", "18:00"]},
    )
    await document_store.personas.add(persona)
    assert await document_store.personas.get(ORG, persona.id) == persona
    changed = await document_store.personas.update(persona.model_copy(update={"tone": "dry"}))
    assert (await document_store.personas.get(ORG, persona.id)) == changed
    with pytest.raises(NotFound):
        await document_store.personas.update(make.persona(ORG))


async def test_proxy_health_keeps_a_rolling_uptime(document_store: DocumentStore) -> None:
    p = make.proxy(ORG)
    await document_store.proxies.add(p)
    now = make.tick()
    outcomes = [True, True, False, True]
    for ok in outcomes:
        update = HealthUpdate(
            checked_at=now,
            ok=ok,
            latency_ms=120 if ok else None,
            exit_ip="203.0.113.9" if ok else None,
            error=None if ok else "proxy unreachable",
        )
        recorded = await document_store.proxies.record_health(ORG, p.id, update, HealthRules())
        assert recorded is not None
        checked = recorded.proxy
    assert checked.uptime_percentage == 75.0
    assert checked.health_status is HealthStatus.HEALTHY
    stored = await document_store.proxies.get(ORG, p.id)
    assert stored is not None
    assert (stored.recent_checks, stored.response_time_ms, stored.exit_ip) == ("1101", 120, "203.0.113.9")
    edited = await document_store.proxies.update(stored.model_copy(update={"name": "Renamed", "recent_checks": ""}))
    assert edited.recent_checks == "1101"  # an edit never overwrites health data
    assert await document_store.proxies.record_health(OTHER, p.id, update, HealthRules()) is None


async def test_concurrent_account_creation_keeps_back_references_exact(document_store: DocumentStore) -> None:
    s, p = make.soul(ORG), make.proxy(ORG)
    await document_store.souls.add(s)
    await document_store.proxies.add(p)
    accounts = [make.account(ORG, s.id, proxy_id=p.id) for _ in range(8)]
    await asyncio.gather(*(document_store.accounts.add(acc) for acc in accounts))
    stored = await document_store.souls.get(ORG, s.id)
    assert stored is not None
    assert sorted(stored.account_ids) == sorted(acc.id for acc in accounts)
    await assert_back_references_consistent(document_store, ORG)


async def test_an_integration_links_to_one_account_at_most(document_store: DocumentStore) -> None:
    s = make.soul(ORG)
    await document_store.souls.add(s)
    one, two = make.account(ORG, s.id), make.account(ORG, s.id)
    await document_store.accounts.add(one)
    await document_store.accounts.add(two)
    linked = await document_store.accounts.update(one.model_copy(update={"integration_id": "integration-1"}))
    assert linked.integration_id == "integration-1"
    with pytest.raises(IntegrationLinked):
        await document_store.accounts.update(two.model_copy(update={"integration_id": "integration-1"}))
    assert (await document_store.accounts.get(ORG, two.id)).integration_id is None  # type: ignore[union-attr]
    found = await document_store.accounts.find(ORG, AccountFilter(integration_id="integration-1"), PageRequest())
    assert [a.id for a in found.items] == [one.id]
    await document_store.accounts.update(linked.model_copy(update={"integration_id": None}))
    await document_store.accounts.update(two.model_copy(update={"integration_id": "integration-1"}))  # free again
    await document_store.accounts.delete(ORG, two.id)
    await document_store.accounts.update(one.model_copy(update={"integration_id": "integration-1"}))  # and again


async def test_the_account_linked_to_an_integration_follows_the_link(document_store: DocumentStore) -> None:
    s = make.soul(ORG)
    await document_store.souls.add(s)
    one, two = make.account(ORG, s.id), make.account(ORG, s.id)
    await document_store.accounts.add(one)
    await document_store.accounts.add(two)
    assert await document_store.accounts.linked_to(ORG, "integration-1") is None
    await document_store.accounts.update(two.model_copy(update={"integration_id": "integration-1"}))
    linked = await document_store.accounts.linked_to(ORG, "integration-1")
    assert linked is not None
    assert (linked.id, linked.integration_id, linked.handle) == (two.id, "integration-1", two.handle)
    assert await document_store.accounts.linked_to(OTHER, "integration-1") is None  # another organization's link
    assert await document_store.accounts.linked_to(ORG, "integration-2") is None
    unlinked = await document_store.accounts.update(linked.model_copy(update={"integration_id": None}))
    assert await document_store.accounts.linked_to(ORG, "integration-1") is None
    await document_store.accounts.update(one.model_copy(update={"integration_id": "integration-1"}))
    assert (await document_store.accounts.linked_to(ORG, "integration-1")).id == one.id  # type: ignore[union-attr]
    assert unlinked.integration_id is None


@pytest.mark.parametrize("client_id", ["a/b", "a/b/c", "__reserved__", ".", "..", "x" * 1501])
async def test_an_id_no_record_can_have_reads_as_missing(document_store: DocumentStore, client_id: str) -> None:
    """Ids come from clients as references and in paths; on Firestore some are not even valid document ids."""
    soul = make.soul(ORG)
    await document_store.souls.add(soul)
    assert await document_store.souls.get(ORG, client_id) is None
    assert await document_store.personas.get(ORG, client_id) is None
    assert await document_store.proxies.get(ORG, client_id) is None
    assert await document_store.accounts.get(ORG, client_id) is None
    assert await document_store.accounts.linked_to(ORG, client_id) is None
    with pytest.raises(ReferenceNotFound):
        await document_store.souls.add(make.soul(ORG, persona_id=client_id))
    with pytest.raises(ReferenceNotFound):
        await document_store.accounts.add(make.account(ORG, soul_id=client_id))
    assert [s.id for s in (await document_store.souls.find(ORG, SoulFilter(), PageRequest())).items] == [soul.id]


async def test_point_reads_made_together_each_get_their_own_row(document_store: DocumentStore) -> None:
    """On PostgreSQL reads made at once go to the database as one statement (adapters.sql.coalesce): each caller
    still gets its own row, only within its own organization, the same row twice when asked twice, and None for a
    missing one; a key the database refuses (a NUL character) fails its own read, not its neighbours'."""
    soul = make.soul(ORG)
    await document_store.souls.add(soul)
    other_soul = make.soul(OTHER)
    await document_store.souls.add(other_soul)
    accounts = [make.account(ORG, soul.id, handle=f"together_{i}") for i in range(6)]
    for account in accounts:
        await document_store.accounts.add(account)
    foreign = make.account(OTHER, other_soul.id, handle="together_foreign")
    await document_store.accounts.add(foreign)
    asked = [(ORG, a.id) for a in accounts] + [(ORG, accounts[0].id), (ORG, foreign.id), (OTHER, foreign.id),
                                               (ORG, "missing"), (OTHER, accounts[1].id)]  # fmt: skip
    found = await asyncio.gather(*(document_store.accounts.get(org, account_id) for org, account_id in asked))
    assert [a.id if a else None for a in found] == [a.id for a in accounts] + [
        accounts[0].id, None, foreign.id, None, None,
    ]  # fmt: skip
    assert found[0] == accounts[0]
    souls = await asyncio.gather(document_store.souls.get(ORG, soul.id), document_store.souls.get(OTHER, soul.id))
    assert souls[0] is not None
    assert souls[0].account_ids == [a.id for a in accounts]
    assert souls[1] is None
    results = await asyncio.gather(
        document_store.accounts.get(ORG, accounts[2].id),
        document_store.accounts.get(ORG, "bad\x00id"),
        document_store.accounts.get(ORG, accounts[3].id),
        return_exceptions=True,
    )
    assert results[0] == accounts[2]
    assert results[2] == accounts[3]
    assert results[1] is None or isinstance(results[1], Exception)
