"""The tests' servers start on a port picked as free; one that exits before listening (its port was taken in the
meantime) is started again on another (tests/support/net.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.support.net import LOOPBACK, ServerExited, accepts_connections, serve_on_free_port

_SERVE = [sys.executable, "-m", "http.server", "--bind", LOOPBACK]


def test_a_server_whose_port_was_taken_starts_again_on_another() -> None:
    taken: list[int] = []
    holders: list[socket.socket] = []

    def launch(port: int) -> subprocess.Popen[bytes]:
        if not taken:  # the first port goes to another socket just before the server binds it
            holder = socket.socket()
            holder.bind((LOOPBACK, port))
            holders.append(holder)
            taken.append(port)
        return subprocess.Popen([*_SERVE, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    proc, port = serve_on_free_port(launch)
    try:
        assert port != taken[0]
        assert accepts_connections(port)
    finally:
        proc.terminate()
        proc.wait()
        for holder in holders:
            holder.close()


def test_a_server_that_keeps_exiting_fails_after_the_last_attempt() -> None:
    launched: list[int] = []

    def launch(port: int) -> subprocess.Popen[bytes]:
        launched.append(port)
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])

    with pytest.raises(ServerExited, match="exited with code 3 before listening, 3 times"):
        serve_on_free_port(launch, attempts=3)
    assert len(launched) == 3
