"""Loopback ports for the servers the tests start."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def accepts_connections(port: int, host: str = LOOPBACK) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ServerExited(RuntimeError):
    pass


def serve_on_free_port(
    launch: Callable[[int], subprocess.Popen[bytes]],
    *,
    ready: Callable[[int], bool] = accepts_connections,
    timeout_s: float = 20,
    attempts: int = 3,
) -> tuple[subprocess.Popen[bytes], int]:
    """A server process (`launch(port)`) once it listens, and its port. A port is free only when it is picked:
    another socket (an outgoing connection of a test running alongside) can take it before the server binds it,
    and the server then exits at once. So a server that exits before it listens is launched again on another port;
    one that neither listens nor exits within `timeout_s` is killed and the start fails."""
    for attempt in range(1, attempts + 1):
        port = free_port()
        proc = launch(port)
        deadline = time.monotonic() + timeout_s
        while not ready(port):
            if proc.poll() is not None:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"{proc.args!r} did not listen on port {port} within {timeout_s}s")
            time.sleep(0.05)
        else:
            return proc, port
        if attempt == attempts:
            raise ServerExited(f"{proc.args!r} exited with code {proc.returncode} before listening, {attempts} times")
    raise AssertionError("unreachable")
