"""Read benchmark (issue: identity core): GET one account and GET a page of 50 accounts, at 32 concurrent clients,
against the API under uvicorn, on SQLite and PostgreSQL; the bare /health/live of the same app is the baseline.

    python -m bench.reads [--duration 5] [--concurrency 32] [--rounds 3] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
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


_TARGETS = ("bare /health/live", "GET one account", "GET page of 50 accounts")


async def _measure(base: str, duration: float, concurrency: int, rounds: int) -> list[list[LoadResult]]:
    """`rounds` rounds of the three figures in turn: the machine's background drifts, and the bare figure is the
    denominator of the ratio, so each round measures all three close together and the medians are reported."""
    headers, account_id = await _seed(base)
    urls = (f"{base}/health/live", f"{base}/axon/accounts/{account_id}", f"{base}/axon/accounts?limit=50")
    return [
        [
            run_load(url, name=name, concurrency=concurrency, duration_s=duration, headers=headers)
            for name, url in zip(_TARGETS, urls, strict=True)
        ]
        for _ in range(rounds)
    ]


def _report(backend: str, rounds: list[list[LoadResult]]) -> None:
    print(f"\n== {backend} == (median of {len(rounds)} rounds)")
    for i, name in enumerate(_TARGETS):
        results = [r[i] for r in rounds]
        ratios = [r[i].rps / r[0].rps for r in rounds]
        rps = statistics.median(r.rps for r in results)
        p50 = statistics.median(r.p50_ms for r in results)
        p99 = statistics.median(r.p99_ms for r in results)
        errors = sum(r.errors for r in results)
        print(
            f"{name:<26} {rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:7.2f} ms   non-2xx {errors}   "
            f"ratio to bare {statistics.median(ratios):4.2f} (rounds {' '.join(f'{x:.2f}' for x in ratios)})"
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (API_WORKERS)")
    args, _ = parser.parse_known_args()
    env = {"API_WORKERS": str(args.workers)}
    print(f"{args.concurrency} concurrent clients (wrk), {args.duration:g}s per figure, {args.workers} API worker(s)")
    async for backend, url in databases(skip_postgres=args.skip_postgres):
        with api_server(url, env) as base:
            _report(backend, await _measure(base, args.duration, args.concurrency, args.rounds))


if __name__ == "__main__":
    asyncio.run(main())
