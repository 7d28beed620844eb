"""Which process opened each connection the sandbox served: proof that platform calls went through a proxy.

On loopback every peer address is 127.0.0.1, so the sandbox's request log alone cannot tell a proxied request from a
direct one; its peer port can. While watching, a thread reads /proc/net/tcp for every open connection to the sandbox
and notes which process holds its socket (the proxy's pproxy subprocess, or this test process), by local port. Each
request the sandbox logged names its peer port, so it is proven relayed when that port was held by the proxy. A
`slow` fault keeps every request of the platform open a little while, so no connection closes unseen."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.identity.platforms import Platform
from tests.platforms.conftest import Sandbox


def _connections_to(port: int) -> dict[int, int]:
    """{local port: socket inode} of the open TCP connections whose remote port is `port`."""
    found: dict[int, int] = {}
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        with contextlib.suppress(OSError):
            for line in table.read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], int(fields[9])
                if inode and int(remote.rsplit(":", 1)[1], 16) == port:
                    found[int(local.rsplit(":", 1)[1], 16)] = inode
    return found


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


@dataclass
class PeerWatch:
    sandbox: Sandbox
    platform: Platform
    pids: tuple[int, ...]  # the processes that may open connections: the proxies and this test process
    owners: dict[int, int] = field(default_factory=dict)  # local (= the sandbox's peer) port → owning pid
    first: int = 0  # index in the sandbox's log of the first request made while watching
    _stop: threading.Event = field(default_factory=threading.Event)

    def scan(self) -> None:
        connections = _connections_to(self.sandbox.port)
        if not connections:
            return
        held = {pid: _socket_inodes(pid) for pid in self.pids}
        for port, inode in connections.items():
            owner = next((pid for pid, inodes in held.items() if inode in inodes), None)
            if owner is not None:
                self.owners[port] = owner

    def run(self) -> None:
        while not self._stop.is_set():
            self.scan()
            time.sleep(0.003)

    def served(self) -> list[dict[str, Any]]:
        """The platform's requests made while watching."""
        return self.sandbox.requests(self.platform)[self.first :]

    def owner(self, record: dict[str, Any]) -> int | None:
        return self.owners.get(record["peer_port"])

    def unproven(self, pid: int, *, skip_endpoints: Iterable[str] = ()) -> list[tuple[str, int | None]]:
        """(path, owner seen) of the requests made while watching whose connection was not held by `pid`."""
        skip = frozenset(skip_endpoints)
        return [(r["path"], self.owner(r)) for r in self.served() if r["endpoint"] not in skip and self.owner(r) != pid]


@contextlib.asynccontextmanager
async def watching(
    sandbox: Sandbox, platform: Platform, proxy_pid: int, *, hold_s: float = 0.4, count: int = 500
) -> AsyncIterator[PeerWatch]:
    """Note the process behind every connection to the sandbox, holding each request to `platform` open for
    `hold_s`, until the block ends. The hold outlasts the watching thread's gaps when parallel test processes load
    the machine (0.15 s once missed a connection there)."""
    watch = PeerWatch(sandbox, platform, (proxy_pid, os.getpid()), first=len(sandbox.requests(platform)))
    sandbox.fault(platform, "slow", endpoint="*", delay_s=hold_s, count=count)
    thread = threading.Thread(target=watch.run, name="peer-watch", daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch._stop.set()
        thread.join(timeout=5)
        with sandbox.control() as c:
            c.delete("/_sandbox/faults").raise_for_status()
