"""`python -m api` with API_WORKERS > 1: one process per worker, each with its own socket of one SO_REUSEPORT group."""

from __future__ import annotations

import os
import signal
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


@pytest.fixture
def api_env(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}",
        "DOCUMENT_STORE": "sql",
        "TEMPORAL_ADDRESS": "127.0.0.1:1",
        "LOG_LEVEL": "INFO",
        "API_WORKERS": "2",
        "API_PORT": str(free_port()),
    }
    subprocess.run([sys.executable, "-m", "cli", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    return env


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    # multiprocessing's spawn starts a resource tracker too; the workers are the ones running the API.
    return [int(p) for p in out.split() if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]


def _listening_workers(pid: int) -> list[int]:
    return [p for p in _children(pid) if _listens(p)]


def _listens(pid: int) -> bool:
    return bool(_listening_sockets(pid))


def _listening_sockets(pid: int) -> set[str]:
    fds = Path(f"/proc/{pid}/fd")
    try:
        inodes = {os.readlink(fds / fd) for fd in os.listdir(fds)}
    except OSError:
        return set()
    listening = set()
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A":  # LISTEN
            listening.add(f"socket:[{fields[9]}]")
    return inodes & listening


@pytest.fixture
def server(api_env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=ROOT, env=api_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait(condition: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_each_worker_listens_on_its_own_socket_and_a_dead_worker_is_replaced(
    server: subprocess.Popen[bytes], api_env: dict[str, str]
) -> None:
    base = f"http://127.0.0.1:{api_env['API_PORT']}"
    _wait(lambda: len(_listening_workers(server.pid)) == 2)
    assert httpx.get(f"{base}/health/live").status_code == 200
    first, second = _listening_workers(server.pid)
    assert not _listening_sockets(first) & _listening_sockets(second)  # not one socket shared, as uvicorn's are
    time.sleep(5)  # past the start-up window: a worker that dies now is started again
    os.kill(first, signal.SIGKILL)
    _wait(lambda: len(_listening_workers(server.pid)) == 2 and first not in _children(server.pid))
    assert second in _children(server.pid)
    with httpx.Client() as client:
        assert all(client.get(f"{base}/health/live").status_code == 200 for _ in range(20))


def test_sigterm_stops_every_worker(server: subprocess.Popen[bytes]) -> None:
    _wait(lambda: len(_listening_workers(server.pid)) == 2)
    workers = _children(server.pid)
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=40) == 0
    assert not [p for p in workers if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def test_a_port_in_use_fails_at_once(api_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(api_env["API_PORT"])))
        taken.listen()
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "api"], cwd=ROOT, env=api_env, capture_output=True, timeout=60)
    assert result.returncode == 1
    assert b"cannot listen" in result.stderr + result.stdout
    assert time.monotonic() - started < 30


def test_one_worker_on_a_port_in_use_fails_too(api_env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(api_env["API_PORT"])))
        taken.listen()
        env = {**api_env, "API_WORKERS": "1"}
        result = subprocess.run([sys.executable, "-m", "api"], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode != 0


def test_workers_stop_when_their_supervisor_is_killed(server: subprocess.Popen[bytes]) -> None:
    _wait(lambda: len(_listening_workers(server.pid)) == 2)
    workers = _children(server.pid)
    server.kill()  # SIGKILL: no chance to stop its workers itself
    server.wait()
    _wait(lambda: not [p for p in workers if Path(f"/proc/{p}").exists() and "Z" not in _state(p)], timeout_s=30)
