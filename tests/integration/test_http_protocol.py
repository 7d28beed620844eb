"""The API served by `python -m api` (uvicorn with api.http_protocol's gathered writes) answers HTTP/1.1 correctly:
keep-alive, pipelining, HEAD, large bodies, and `Connection: close`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('http') / 'http.db'}",
        "DOCUMENT_STORE": "sql",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "API_WORKERS": "1",
        "API_PORT": str(port),
    }
    subprocess.run([sys.executable, "-m", "cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "the API exited"
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _responses(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    """Reads `count` responses with Content-Length bodies off one connection: (head, body) each."""
    data = b""
    out: list[tuple[bytes, bytes]] = []
    sock.settimeout(10)
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            data += chunk
        head, _, data = data.partition(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        while len(data) < length:
            chunk = sock.recv(65536)
            assert chunk, "connection closed early"
            data += chunk
        out.append((head, data[:length]))
        data = data[length:]
    return out


def test_keep_alive_requests_on_one_connection(base: tuple[str, int]) -> None:
    with httpx.Client(base_url=base[0]) as client:
        answers = [client.get("/health/live") for _ in range(50)]
    assert all(a.status_code == 200 for a in answers)
    assert all(a.json() == answers[0].json() for a in answers)


def test_pipelined_requests_are_answered_in_order(base: tuple[str, int]) -> None:
    request = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\nGET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", base[1])) as sock:
        sock.sendall(request)
        (head1, body1), (head2, body2) = _responses(sock, 2)
    assert head1.startswith(b"HTTP/1.1 200")
    assert json.loads(body1)
    assert head2.startswith(b"HTTP/1.1 404")
    assert json.loads(body2)["status"] == 404


def test_head_has_headers_only_and_the_connection_goes_on(base: tuple[str, int]) -> None:
    with socket.create_connection(("127.0.0.1", base[1])) as sock:
        sock.sendall(b"HEAD /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        # FastAPI's routes answer HEAD with 405 (they list GET only); the head says how long the body would be.
        assert data.startswith(b"HTTP/1.1 405")
        assert b"content-length: " in data
        assert data.endswith(b"\r\n\r\n")  # and no body follows: the next answer starts clean
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        [(head, body)] = _responses(sock, 1)
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)


def test_a_large_body_arrives_whole(base: tuple[str, int]) -> None:
    answer = httpx.get(f"{base[0]}/openapi.json")
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content) > 100_000
    assert "paths" in answer.json()


def test_connection_close_is_honoured_after_the_whole_answer(base: tuple[str, int]) -> None:
    with socket.create_connection(("127.0.0.1", base[1])) as sock:
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(10)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert json.loads(body)
