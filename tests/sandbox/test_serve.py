"""`python -m sandbox` serves over real TCP on 127.0.0.1 and logs the TCP peer even when X-Forwarded-For lies."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--port", str(port)], cwd=ROOT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_served_app_logs_real_peer(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=5) as client:
        for _ in range(100):
            try:
                await client.get("/_sandbox/requests")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        response = await client.get("/x/2/users/me", headers={"X-Forwarded-For": "203.0.113.5"})
        assert response.status_code == 401
        (entry,) = (await client.get("/_sandbox/requests", params={"platform": "x"})).json()["requests"]
        assert entry["peer_host"] == "127.0.0.1"
        assert isinstance(entry["peer_port"], int)
        assert entry["forwarded_for"] == "203.0.113.5"
