"""Matrix benchmark: an organization with 1,000 souls, 200 integrations and 20,000 mappings. GET a page of 100 souls
and the full matrix (one request at a time, as a user opening the matrix), and mapping toggle / create / set-primary at
16 concurrent connections, on SQLite and PostgreSQL.

Page loads come from httpx. The mapping operations come from wrk (C, one thread, Lua-scripted bodies), as in
bench.reads: a Python client at 16 connections would take most of a core from the API on a small machine.

Baselines (the ratios), on the same database in the same run, straight through the driver (aiosqlite / asyncpg):
- reads: the same rows as the page (the souls, the integrations, the souls' mappings), one query each;
- writes: one single-row mapping INSERT at the same concurrency (SQLite writers queued in-process, as the API does).

The API runs as it ships, with one worker process (API_WORKERS=1); `--workers N` measures N. On a two-core machine
that also runs the load generator and PostgreSQL, a second worker only competes for the same cores, and on SQLite
its writes also queue across processes: the mapping operations' p95 is about twice that of one worker (see the notes).

    python -m bench.matrix [--requests 300] [--seconds 5] [--skip-postgres] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import asyncpg
import httpx
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from adapters.sql.channels import INTEGRATION, MAPPING
from adapters.sql.engine import create_engine
from adapters.sql.identity.common import SOUL
from adapters.sql.read_lane import dispose_engine
from bench.server import api_server, databases

SOULS, INTEGRATIONS, PER_SOUL = 1000, 200, 20
PLATFORMS = ["x", "linkedin", "facebook", "instagram", "tiktok", "threads", "bluesky", "mastodon"]
CLIENTS = 16


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _line(name: str, p50: float, p95: float, n: int, raw: list[float] | None = None, extra: str = "") -> str:
    ratio = ""
    if raw:
        base = statistics.median(raw)
        ratio = f"   raw SQL p50 {base:6.2f} ms, ratio {p50 / base:5.1f}x"
    return f"{name:<32} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   n={n}{ratio}{extra}"


def _seeded(s: int) -> set[int]:
    return {(s * 7 + k * 11) % INTEGRATIONS for k in range(PER_SOUL)}


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
    await dispose_engine(engine)
    return souls, integrations


async def _timed(n: int, call: Callable[[], Awaitable[None]]) -> list[float]:
    latencies: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


# --- the driver baselines ----------------------------------------------------------------------------------------


class _Driver:
    """One raw driver connection; `?` placeholders are numbered for PostgreSQL."""

    def __init__(self, database_url: str) -> None:
        url = make_url(database_url)
        self.sqlite = url.get_backend_name() == "sqlite"
        self._target = url.database if self.sqlite else url.set(drivername="postgresql").render_as_string(False)
        self._conn: Any = None

    async def __aenter__(self) -> _Driver:
        if self.sqlite:
            self._conn = await aiosqlite.connect(str(self._target), isolation_level=None)
            await self._conn.execute("PRAGMA busy_timeout=30000")
        else:
            self._conn = await asyncpg.connect(str(self._target))
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._conn.close()

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if self.sqlite:
            return list(await self._conn.execute_fetchall(sql, args))
        parts = sql.split("?")
        numbered = "".join(f"{p}${i}" for i, p in enumerate(parts[:-1], start=1)) + parts[-1]
        return list(await self._conn.fetch(numbered, *args))


async def _raw_reads(database_url: str, org: str, limit: int, n: int) -> list[float]:
    """The rows of a matrix page straight from the driver: souls, integrations, the souls' mappings."""
    out = []
    async with _Driver(database_url) as db:
        for _ in range(n):
            started = time.perf_counter()
            souls = await db.fetch(
                "SELECT * FROM soul WHERE organization_id = ? ORDER BY created_at, id LIMIT ?", org, limit
            )
            await db.fetch("SELECT * FROM integration WHERE organization_id = ? ORDER BY created_at, id", org)
            ids = [s[0] for s in souls]
            if db.sqlite:
                marks = ", ".join("?" * len(ids))
                sql = f"SELECT * FROM soul_integration_mapping WHERE organization_id = ? AND soul_id IN ({marks})"  # noqa: S608
                await db.fetch(sql, org, *ids)
            else:
                sql = "SELECT * FROM soul_integration_mapping WHERE organization_id = ? AND soul_id = ANY(?::varchar[])"
                await db.fetch(sql, org, ids)
            out.append((time.perf_counter() - started) * 1000)
    return out


async def _raw_inserts(database_url: str, org: str, integrations: list[str], n: int) -> list[float]:
    """Single-row mapping INSERTs from 16 connections at once (then removed again)."""
    latencies: list[float] = []
    gate = asyncio.Lock()
    counter = iter(range(n))
    sql = (
        "INSERT INTO soul_integration_mapping (id, organization_id, soul_id, integration_id, platform, account_id,"
        " is_primary, priority, notes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?, 0, NULL, ?, ?)"
    )
    probe = _Driver(database_url)
    now: Any = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if probe.sqlite else datetime.now(UTC)
    marker = f"raw-{uuid.uuid4().hex[:8]}"

    async def client() -> None:
        async with _Driver(database_url) as db:
            for i in counter:
                # A soul id of its own per row: no unique index is met, only the insert itself is measured.
                args = (str(uuid.uuid4()), org, f"{marker}-{i}", integrations[i % len(integrations)], "x", False)
                started = time.perf_counter()
                if db.sqlite:
                    async with gate:
                        await db.fetch(sql, *args, now, now)
                else:
                    await db.fetch(sql, *args, now, now)
                latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    async with _Driver(database_url) as db:
        await db.fetch("DELETE FROM soul_integration_mapping WHERE soul_id LIKE ?", f"{marker}-%")
    return latencies


# --- mapping operations from wrk -------------------------------------------------------------------------------

_LUA = """
local items = {%(items)s}
local i = 0
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  local item = items[(i - 1) %% #items + 1]
  %(request)s
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%.3f %%.3f\\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000, latency:percentile(95) / 1000))
end
"""


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk(base: str, token: str, items: list[str], request: str, seconds: float) -> tuple[int, int, int, float, float]:
    """(requests, non-2xx, socket errors and timeouts, p50 ms, p95 ms) of a closed loop at 16 connections."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: apt-get install wrk (make bench installs it)")
    script = _LUA % {"items": ",".join(map(_lua_string, items)), "token": token, "request": request}
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        argv = [wrk, "-t1", f"-c{CLIENTS}", f"-d{max(1, round(seconds))}s", "-s", file.name, base]
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
    match = re.search(r"^RESULT (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+)$", done.stdout, re.M)
    if match is None:
        raise RuntimeError(f"unexpected wrk output: {done.stdout}{done.stderr}")
    n, status, failed, p50, p95 = match.groups()
    return int(n), int(status), int(failed), float(p50), float(p95)


# --- the run -----------------------------------------------------------------------------------------------------


@asynccontextmanager
async def _organization(base: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str], str, str]]:
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
        assert "accessToken" in tokens, tokens
        h = {"Authorization": f"Bearer {tokens['accessToken']}"}
        org = (await client.get("/auth/me", headers=h)).json()["organization"]["id"]
        yield client, h, org, tokens["accessToken"]


async def _run(backend: str, database_url: str, env: dict[str, str], requests: int, seconds: float) -> None:
    with api_server(database_url, env) as base:
        async with _organization(base) as (client, h, org, token):
            souls, integrations = await _seed(database_url, org)
            workers = env["API_WORKERS"]
            print(f"\n== {backend}: {SOULS} souls, {INTEGRATIONS} integrations, {SOULS * PER_SOUL} mappings, "
                  f"{workers} API worker(s) ==")  # fmt: skip

            async def get(path: str) -> None:
                response = await client.get(path, headers=h)
                assert response.status_code == 200, response.text

            await _timed(5, lambda: get("/axon/matrix?limit=100"))  # warm: pools, statement caches
            page = await _timed(requests, lambda: get("/axon/matrix?limit=100"))
            raw = await _raw_reads(database_url, org, 100, 100)
            print(_line("GET matrix page (100 souls)", statistics.median(page), _pct(page, 95), len(page), raw))
            full = await _timed(max(20, requests // 10), lambda: get("/axon/matrix?limit=1000"))
            raw = await _raw_reads(database_url, org, 1000, 20)
            print(_line("GET full matrix (1,000 souls)", statistics.median(full), _pct(full, 95), len(full), raw))

            raw = await _raw_inserts(database_url, org, integrations, 2000)
            print(_line("raw SQL INSERT (16 clients)", statistics.median(raw), _pct(raw, 95), len(raw)))

            # Toggles flip pairs that are partly mapped already (so both branches run); creates use pairs that are
            # mapped by nothing; set-primary walks existing mappings soul by soul.
            toggled = [(i % SOULS, (i * 13 + 5) % INTEGRATIONS) for i in range(20_000)]
            taken = set(toggled) | {(s, i) for s in range(SOULS) for i in _seeded(s)}
            fresh = [
                (s, (s + k) % INTEGRATIONS)
                for k in range(INTEGRATIONS)
                for s in range(SOULS)
                if (s, (s + k) % INTEGRATIONS) not in taken
            ][:40_000]
            body = '{"soulId":"%s","integrationId":"%s"}'
            pair_request = 'return wrk.format(nil, "%s", nil, item)'
            toggles = [body % (souls[s], integrations[i]) for s, i in toggled]
            creates = [body % (souls[s], integrations[i]) for s, i in fresh]
            await _operation(
                base,
                token,
                "POST mappings/toggle",
                toggles,
                pair_request % "/axon/matrix/mappings/toggle",
                seconds,
                raw,
            )
            await _operation(
                base, token, "POST mappings (create)", creates, pair_request % "/axon/matrix/mappings", seconds, raw
            )
            async with _Driver(database_url) as db:  # the mappings as they are now
                sql = "SELECT id FROM soul_integration_mapping WHERE organization_id = ? ORDER BY priority, soul_id"
                ids = [row[0] for row in await db.fetch(sql, org)]
            primary = 'return wrk.format(nil, "/axon/matrix/mappings/" .. item .. "/primary")'
            await _operation(base, token, "POST mappings/:id/primary", ids, primary, seconds, raw)


async def _operation(
    base: str, token: str, name: str, items: list[str], request: str, seconds: float, raw: list[float]
) -> None:
    _wrk(base, token, items[-500:], request, 1)  # warm-up on items the measured run does not reach
    n, status, failed, p50, p95 = await asyncio.to_thread(_wrk, base, token, items[:-500], request, seconds)
    extra = f"   {n / seconds:5.0f} req/s   non-2xx {status}" + (f", failed {failed}" if failed else "")
    print(_line(name, p50, p95, n, raw, extra))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="page loads (full matrix: a tenth)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per mapping operation")
    parser.add_argument("--workers", type=int, default=1, help="API worker processes (API_WORKERS)")
    parser.add_argument("--skip-postgres", action="store_true")
    args, _ = parser.parse_known_args()
    env = {"API_WORKERS": str(args.workers)}
    async for backend, url in databases(skip_postgres=args.skip_postgres):
        await _run(backend, url, env, args.requests, args.seconds)


if __name__ == "__main__":
    asyncio.run(main())
