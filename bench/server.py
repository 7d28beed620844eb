"""Start the API under uvicorn in a subprocess, on a fresh migrated database, for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def api_server(database_url: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "API_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        # Nothing listens here: the benchmarks measure the API and its database, not Temporal.
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        **(extra_env or {}),
    }
    subprocess.run([sys.executable, "-m", "cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the API did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def databases(*, skip_postgres: bool) -> AsyncIterator[tuple[str, str]]:
    """(backend name, database URL): a fresh SQLite file, then a fresh PostgreSQL database; both removed after."""
    with tempfile.TemporaryDirectory() as tmp:
        yield "SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
    if skip_postgres:
        return
    name = f"souls_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield "PostgreSQL", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
