"""CPU per request of the API application alone: requests handed straight to the ASGI app, with no server, socket or
load generator sharing the machine's cores, on a SQLite file. The bare /health/live of the same app is the baseline.

bench.reads measures what a client sees, but on a small machine its figures swing with everything else running;
these are steadier, and they show where the application's own time goes (compare them before and after a change).

    python -m bench.app_cpu [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

import httpx

from cli import migrate

_ROUNDS = 5


async def _request(app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 1), "server": ("bench", 80), "state": {},
    }  # fmt: skip
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"GET {path} answered {statuses}")


async def _cpu_us(app: Any, path: str, headers: list[tuple[bytes, bytes]], n: int) -> float:
    """The median over rounds of the process CPU per request, after a warm-up."""
    for _ in range(min(n, 300)):
        await _request(app, path, headers)
    rounds = []
    for _ in range(_ROUNDS):
        start = time.process_time()
        for _ in range(n):
            await _request(app, path, headers)
        rounds.append((time.process_time() - start) / n * 1e6)
    return statistics.median(rounds)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000, help="per round; five rounds per figure")
    args, _ = parser.parse_known_args()
    url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/app_cpu.db"
    os.environ.update(DATABASE_URL=url, TEMPORAL_ADDRESS="127.0.0.1:1", LOG_LEVEL="WARNING")
    await asyncio.to_thread(migrate, url)
    from api.main import create_app  # imported once the environment names this database
    from settings import Settings

    app = create_app(Settings())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            body = {"email": "bench@example.com", "password": "benchmark password", "name": "Bench",
                    "organizationName": "Bench"}  # fmt: skip
            token = (await client.post("/auth/register", json=body)).json()["accessToken"]
            h = {"Authorization": f"Bearer {token}"}
            soul = (await client.post("/axon/souls", json={"name": "Bench soul"}, headers=h)).json()
            account = {"soulId": soul["id"], "platform": "x", "handle": "bench",
                       "credentials": {"password": "pw", "apiKey": "key"}, "metrics": {"followers": 3}}  # fmt: skip
            account_id = (await client.post("/axon/accounts", json=account, headers=h)).json()["id"]
        auth = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
        bare = await _cpu_us(app, "/health/live", [(b"host", b"bench")], args.requests)
        print(f"CPU per request of the app alone (SQLite, median of {_ROUNDS} rounds of {args.requests}):")
        print(f"  bare /health/live   {bare:7.1f} us")
        for name, path in [
            ("GET one account", f"/axon/accounts/{account_id}"),
            ("GET one soul", f"/axon/souls/{soul['id']}"),
        ]:
            cost = await _cpu_us(app, path, auth, args.requests)
            print(f"  {name:<19} {cost:7.1f} us   bare / this {bare / cost:4.2f}")


if __name__ == "__main__":
    asyncio.run(main())
