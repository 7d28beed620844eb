"""Read benchmark (issue: identity core): GET one account and GET a page of 50 accounts, at 32 concurrent clients,
against the API under uvicorn, on SQLite and PostgreSQL; the bare /health/live of the same app is the baseline.

    python -m bench.reads [--duration 5] [--concurrency 32] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

import httpx

from bench.load import LoadResult, run_load
from bench.server import api_server, databases

ACCOUNTS = 200


async def _seed(base: str) -> tuple[dict[str, str], str]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        tokens = (
            await client.post(
                "/auth/register",
                json={
                    "email": f"bench-{uuid.uuid4().hex[:6]}@example.com",
                    "password": "benchmark password",
                    "name": "Bench",
                    "organizationName": "Bench",
                },
            )
        ).json()
        h = {"Authorization": f"Bearer {tokens['accessToken']}"}
        soul = (await client.post("/axon/souls", json={"name": "Bench soul"}, headers=h)).json()
        proxy = (
            await client.post(
                "/axon/proxies",
                headers=h,
                json={"name": "p", "type": "residential", "protocol": "http", "host": "10.0.0.1", "port": 8080},
            )
        ).json()
        first = ""
        for i in range(ACCOUNTS):
            body = {
                "soulId": soul["id"],
                "platform": "x",
                "handle": f"bench_{i}",
                "proxyId": proxy["id"],
                "credentials": {"password": f"pw-{i}", "apiKey": f"key-{i}"},
                "metrics": {"followers": i},
            }
            created = (await client.post("/axon/accounts", json=body, headers=h)).json()
            first = first or created["id"]
    return h, first


async def _measure(base: str, duration: float, concurrency: int) -> list[LoadResult]:
    headers, account_id = await _seed(base)
    return [
        run_load(f"{base}/health/live", name="bare /health/live", concurrency=concurrency, duration_s=duration),
        run_load(
            f"{base}/axon/accounts/{account_id}",
            name="GET one account",
            concurrency=concurrency,
            duration_s=duration,
            headers=headers,
        ),
        run_load(
            f"{base}/axon/accounts?limit=50",
            name="GET page of 50 accounts",
            concurrency=concurrency,
            duration_s=duration,
            headers=headers,
        ),
    ]


def _report(backend: str, results: list[LoadResult]) -> None:
    bare = results[0]
    print(f"\n== {backend} ==")
    for r in results:
        print(f"{r.line()}   ratio to bare {r.rps / bare.rps:4.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (API_WORKERS)")
    args, _ = parser.parse_known_args()
    env = {"API_WORKERS": str(args.workers)}
    print(f"{args.concurrency} concurrent clients (wrk), {args.duration:g}s per figure, {args.workers} API worker(s)")
    async for backend, url in databases(skip_postgres=args.skip_postgres):
        with api_server(url, env) as base:
            _report(backend, await _measure(base, args.duration, args.concurrency))


if __name__ == "__main__":
    asyncio.run(main())
