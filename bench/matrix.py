"""Matrix benchmark: an organization with 1,000 souls, 200 integrations and 20,000 mappings. GET a page of 100 souls
and the full matrix (one request at a time), and mapping create / toggle / set-primary at 16 concurrent clients, on
SQLite and PostgreSQL.
Baseline (the ratio): the raw SQL that reads the same rows, on the same database, in the same run.

    python -m bench.matrix [--requests 300] [--skip-postgres] [--workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, text

from adapters.sql.channels import INTEGRATION, MAPPING
from adapters.sql.engine import create_engine
from adapters.sql.identity.common import SOUL
from bench.server import api_server, databases

SOULS, INTEGRATIONS, PER_SOUL = 1000, 200, 20
PLATFORMS = ["x", "linkedin", "facebook", "instagram", "tiktok", "threads", "bluesky", "mastodon"]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _line(name: str, ms: list[float], baseline: list[float] | None = None) -> str:
    ratio = ""
    if baseline:
        raw = statistics.median(baseline)
        ratio = f"   raw SQL p50 {raw:6.2f} ms, ratio {statistics.median(ms) / raw:5.1f}x"
    return f"{name:<32} p50 {statistics.median(ms):7.2f} ms   p95 {_pct(ms, 95):7.2f} ms   n={len(ms)}{ratio}"


async def _seed(database_url: str, org: str) -> tuple[list[str], list[str]]:
    engine = create_engine(database_url)
    base = datetime.now(UTC)
    souls = [str(uuid.uuid4()) for _ in range(SOULS)]
    integrations = [str(uuid.uuid4()) for _ in range(INTEGRATIONS)]
    platform_of = {iid: PLATFORMS[i % len(PLATFORMS)] for i, iid in enumerate(integrations)}
    async with engine.begin() as conn:
        await conn.execute(
            insert(SOUL),
            [
                {
                    "id": sid,
                    "organization_id": org,
                    "name": f"Soul {i:04d}",
                    "name_search": f"soul {i:04d}",
                    "description": None,
                    "status": "active",
                    "persona_id": None,
                    "proxy_id": None,
                    "metadata": {},
                    "created_at": base + timedelta(microseconds=i),
                    "updated_at": base,
                }
                for i, sid in enumerate(souls)
            ],
        )
        await conn.execute(
            insert(INTEGRATION),
            [
                {
                    "id": iid,
                    "organization_id": org,
                    "provider_identifier": platform_of[iid],
                    "internal_id": f"u{i}",
                    "name": f"Channel {i}",
                    "handle": None,
                    "picture": None,
                    "token": None,
                    "refresh_token": None,
                    "token_expiration": None,
                    "disabled": False,
                    "refresh_needed": False,
                    "created_at": base + timedelta(microseconds=i),
                    "updated_at": base,
                }
                for i, iid in enumerate(integrations)
            ],
        )
        rows = []
        for s, sid in enumerate(souls):
            seen: set[str] = set()
            for k in range(PER_SOUL):
                iid = integrations[(s * 7 + k * 11) % INTEGRATIONS]
                platform = platform_of[iid]
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "organization_id": org,
                        "soul_id": sid,
                        "integration_id": iid,
                        "platform": platform,
                        "account_id": None,
                        "is_primary": platform not in seen,
                        "priority": k,
                        "notes": None,
                        "created_at": base,
                        "updated_at": base,
                    }
                )
                seen.add(platform)
        for chunk in range(0, len(rows), 2000):
            await conn.execute(insert(MAPPING), rows[chunk : chunk + 2000])
    await engine.dispose()
    return souls, integrations


async def _timed(n: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _raw_baseline(database_url: str, org: str, limit: int, n: int) -> list[float]:
    """The same rows as a matrix page straight from the driver: souls, integrations, their mappings."""
    engine = create_engine(database_url)
    souls_sql = text("SELECT * FROM soul WHERE organization_id = :org ORDER BY created_at, id LIMIT :n")
    integ_sql = text("SELECT * FROM integration WHERE organization_id = :org ORDER BY created_at, id")
    out = []
    async with engine.connect() as conn:
        for _ in range(n):
            started = time.perf_counter()
            souls = (await conn.execute(souls_sql, {"org": org, "n": limit})).all()
            await conn.execute(integ_sql, {"org": org})
            ids = [s.id for s in souls]
            stmt = MAPPING.select().where(MAPPING.c.organization_id == org, MAPPING.c.soul_id.in_(ids))
            (await conn.execute(stmt)).all()
            out.append((time.perf_counter() - started) * 1000)
    await engine.dispose()
    return out


async def _run(backend: str, database_url: str, env: dict[str, str], requests: int) -> None:
    with api_server(database_url, env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            tokens = (
                await client.post(
                    "/auth/register",
                    json={
                        "email": f"m-{uuid.uuid4().hex[:6]}@example.com",
                        "password": "benchmark password",
                        "name": "Bench",
                        "organizationName": "Bench",
                    },
                )
            ).json()
            h = {"Authorization": f"Bearer {tokens['accessToken']}"}
            org = (await client.get("/auth/me", headers=h)).json()["organization"]["id"]
            souls, integrations = await _seed(database_url, org)
            print(f"\n== {backend}: {SOULS} souls, {INTEGRATIONS} integrations, {SOULS * PER_SOUL} mappings ==")

            async def get(path: str) -> None:
                response = await client.get(path, headers=h)
                assert response.status_code == 200, response.text

            # Page loads are measured one at a time (a user opening the matrix); mapping operations at 16 clients.
            page = await _timed(requests, 1, lambda _: get("/axon/matrix?limit=100"))
            print(_line("GET matrix page (100 souls)", page, await _raw_baseline(database_url, org, 100, 100)))
            full = await _timed(max(20, requests // 10), 1, lambda _: get("/axon/matrix?limit=1000"))
            print(_line("GET full matrix (1,000 souls)", full, await _raw_baseline(database_url, org, 1000, 20)))

            pairs: list[tuple[str, str]] = [
                (souls[i % SOULS], integrations[(i * 13 + 5) % INTEGRATIONS]) for i in range(requests * 3)
            ]
            created: list[str] = []

            async def create(i: int) -> None:
                soul, integration = pairs[i]
                r = await client.post(
                    "/axon/matrix/mappings/toggle", json={"soulId": soul, "integrationId": integration}, headers=h
                )
                assert r.status_code == 200, r.text
                if r.json()["mapping"]:
                    created.append(r.json()["mapping"]["id"])

            toggles = await _timed(requests, 16, create)
            print(_line("POST mappings/toggle", toggles))

            async def new_mapping(i: int) -> None:
                soul, integration = pairs[requests + i]
                r = await client.post(
                    "/axon/matrix/mappings", json={"soulId": soul, "integrationId": integration}, headers=h
                )
                assert r.status_code in (201, 409), r.text
                if r.status_code == 201:
                    created.append(r.json()["id"])

            creates = await _timed(requests, 16, new_mapping)
            print(_line("POST mappings (create)", creates))

            async def primary(i: int) -> None:
                r = await client.post(f"/axon/matrix/mappings/{created[i % len(created)]}/primary", headers=h)
                assert r.status_code == 200, r.text

            primaries = await _timed(requests, 16, primary)
            print(_line("POST mappings/:id/primary", primaries))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-postgres", action="store_true")
    args, _ = parser.parse_known_args()
    env = {"API_WORKERS": str(args.workers)}
    async for backend, url in databases(skip_postgres=args.skip_postgres):
        await _run(backend, url, env, args.requests)


if __name__ == "__main__":
    asyncio.run(main())
