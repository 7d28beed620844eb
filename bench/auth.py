"""Authentication overhead: an authenticated GET /auth/me (bearer token, then API key) against the bare
/health/live of the same app, at 32 concurrent clients, on SQLite and on PostgreSQL.

    python -m bench.auth [--duration 5] [--concurrency 32] [--postgres-dsn postgresql+asyncpg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

import httpx

from bench.load import LoadResult, run_load
from bench.server import api_server, databases


async def _measure(base: str, duration: float, concurrency: int) -> list[LoadResult]:
    async with httpx.AsyncClient(base_url=base) as client:
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
        bearer = {"Authorization": f"Bearer {tokens['accessToken']}"}
        key = (await client.post("/auth/api-keys", json={"name": "bench", "role": "admin"}, headers=bearer)).json()
    return [
        run_load(f"{base}/health/live", name="bare /health/live", concurrency=concurrency, duration_s=duration),
        run_load(
            f"{base}/auth/me",
            name="GET /auth/me (bearer)",
            concurrency=concurrency,
            duration_s=duration,
            headers=bearer,
        ),
        run_load(
            f"{base}/auth/me",
            name="GET /auth/me (X-API-Key)",
            concurrency=concurrency,
            duration_s=duration,
            headers={"X-API-Key": key["key"]},
        ),
    ]


def _report(backend: str, results: list[LoadResult]) -> None:
    bare = results[0]
    print(f"\n== {backend} ==")
    for r in results:
        ratio = r.rps / bare.rps if bare.rps else float("nan")
        print(f"{r.line()}   ratio to bare {ratio:4.2f}")


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
