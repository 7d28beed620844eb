"""Real proxies and an IP-echo "check" server on 127.0.0.1, for testing outbound proxy routing.

    with PproxyServer("socks5", "alice", "secret") as proxy, CheckServer() as check:
        async with build_client(proxy.endpoint()) as client:
            await client.get(check.url())
        assert check.hits[-1].owner_pid == proxy.pid  # the proxy process opened the connection, not the test

Telling proxied from direct on loopback: every connection arrives from 127.0.0.1, so the peer address says nothing.
While it handles a request, the check server looks up its peer's socket in /proc/net/tcp (the socket whose local port is
the peer port and whose remote port is the check server's) and then which process holds that socket's inode among its
file descriptors. That pid is recorded with the request: the pproxy subprocess's pid means the request was relayed, the
test process's own pid means it came direct. The lookup runs before the response is sent, so the connection is still
open and the answer cannot go stale. It needs Linux /proc; elsewhere ``owner_pid`` is None.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal, Self

from adapters.proxy import ProxyEndpoint
from tests.support.net import LOOPBACK, accepts_connections, free_port

# pproxy 2.7 installs uvloop when it can import it and then calls asyncio.get_event_loop(), which uvloop refuses
# outside a running loop; uvicorn[standard] pulls uvloop into this venv. Hiding uvloop and setting a plain loop first
# starts pproxy on stock asyncio.
_PPROXY_LAUNCHER = (
    "import asyncio, sys; sys.modules['uvloop'] = None; asyncio.set_event_loop(asyncio.new_event_loop()); "
    "from pproxy.server import main; main()"
)


class ProxyServerError(RuntimeError):
    """A test proxy or check server could not be started."""


class PproxyServer:
    """A ``pproxy`` subprocess on 127.0.0.1: an HTTP proxy checking Basic auth or a SOCKS5 proxy checking RFC 1929
    username/password. The password must not contain ``#``, ``__`` or a newline (pproxy's URI syntax)."""

    def __init__(
        self, protocol: Literal["http", "socks5"], username: str, password: str, startup_timeout: float = 15.0
    ) -> None:
        if "#" in password or "__" in password or "\n" in password:
            raise ValueError("pproxy cannot express this password in its listen URI")
        self.protocol: Literal["http", "socks5"] = protocol
        self.username = username
        self.password = password
        self.startup_timeout = startup_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ProxyServerError("proxy not started")
        return self._process.pid

    def endpoint(self, *, username: str | None = None, password: str | None = None) -> ProxyEndpoint:
        """This proxy as the code under test sees it; override the credentials to present wrong ones."""
        return ProxyEndpoint(
            protocol=self.protocol,
            host=LOOPBACK,
            port=self.port,
            username=self.username if username is None else username,
            password=self.password if password is None else password,
        )

    def start(self) -> Self:
        if self._process is not None:
            return self
        # free_port() can race with another process taking the port; pproxy then reports a failed bind and we retry.
        for _ in range(3):
            if self._try_start():
                return self
        raise ProxyServerError(f"pproxy ({self.protocol}) could not bind a port; output:\n{self.output()}")

    def _try_start(self) -> bool:
        self.stop()
        self.port = free_port()
        listen = f"{self.protocol}://{LOOPBACK}:{self.port}#{self.username}:{self.password}"
        self._log = tempfile.TemporaryFile(prefix="pproxy-")  # noqa: SIM115 - closed in stop()
        # --auth=-1: pproxy otherwise remembers a client IP that authenticated once and lets every later connection
        # from it through without credentials, which would make wrong-password tests pass on loopback.
        self._process = subprocess.Popen(
            [sys.executable, "-u", "-c", _PPROXY_LAUNCHER, "-l", listen, "--auth=-1"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            output = self.output()
            if f"{LOOPBACK}:{self.port}" in output and "Start server failed" not in output:
                # The banner names our port, so whatever accepts on it is this pproxy and not a port thief.
                if accepts_connections(self.port):
                    return True
            elif "Start server failed" in output:
                return False
            exited = self._process.poll()
            if exited is not None or time.monotonic() > deadline:
                reason = f"exited with code {exited}" if exited is not None else f"not up in {self.startup_timeout}s"
                self.stop()
                raise ProxyServerError(f"pproxy ({self.protocol}) {reason}; output:\n{output}")
            time.sleep(0.05)

    def output(self) -> str:
        """Everything pproxy printed so far."""
        if self._log is None:
            return ""
        return os.pread(self._log.fileno(), 1 << 20, 0).decode(errors="replace")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Hit:
    """One request the check server received."""

    path: str
    peer_host: str
    peer_port: int
    owner_pid: int | None  # process holding the peer socket; None when /proc is unavailable


class CheckServer:
    """An IP-echo HTTP server in a background thread. ``GET /`` answers ``{"ip": "<peer address>"}``; other paths
    exercise the checker's failure handling:

    ``/origin`` ``{"origin": ...}`` · ``/text`` plain-text address · ``/garbage`` a body with no address ·
    ``/status/<code>`` that status · ``/slow`` answers only when the server stops.
    """

    def __init__(self) -> None:
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise ProxyServerError("check server not started")
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    @property
    def hits(self) -> list[Hit]:
        with self._lock:
            return list(self._hits)

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._stopping.clear()
        # Port 0 lets the kernel pick: no free-port race for an in-process server.
        self._server = ThreadingHTTPServer((LOOPBACK, 0), _handler_for(self))
        # A short poll interval keeps shutdown() (once per test) from costing the default half second.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="proxy-check-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        self._stopping.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        peer_host, peer_port = request.client_address[0], int(request.client_address[1])
        hit = Hit(request.path, peer_host, peer_port, socket_owner_pid(peer_port, self.port))
        with self._lock:
            self._hits.append(hit)

        status, content_type, body = 200, "application/json", json.dumps({"ip": peer_host}).encode()
        if request.path == "/origin":
            body = json.dumps({"origin": peer_host}).encode()
        elif request.path == "/text":
            content_type, body = "text/plain", f"{peer_host}\n".encode()
        elif request.path == "/garbage":
            content_type, body = "text/plain", b"hello, no address here"
        elif request.path.startswith("/status/"):
            status, content_type, body = int(request.path.removeprefix("/status/")), "text/plain", b""
        elif request.path == "/slow":
            self._stopping.wait(30)
        request.send_response(status)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


def _handler_for(check: CheckServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            check._answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keeps pytest output clean; the hits list is the record

    return Handler


class RefusingPort:
    """A loopback port guaranteed to refuse connections, like a dead proxy: the socket is bound (so nothing else can
    take the port) but never listens, so the kernel answers every SYN with a reset."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind((LOOPBACK, 0))
        self.port: int = self._sock.getsockname()[1]

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SilentServer:
    """A loopback server that accepts TCP connections and never sends a byte: a half-dead proxy."""

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self._listener.getsockname()[1]
        self._accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept_forever, name="silent-server", daemon=True)
        self._thread.start()

    def _accept_forever(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # listener closed
            self._accepted.append(conn)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone does not on Linux.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(timeout=5)
        for conn in self._accepted:
            conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def socket_owner_pid(local_port: int, remote_port: int) -> int | None:
    """Pid of the process holding the open TCP socket ``127.0.0.1:local_port -> 127.0.0.1:remote_port``, or None."""
    inode = _tcp_socket_inode(local_port, remote_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue  # gone, or another user's process
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    return int(proc.name)
            except OSError:
                continue
    return None


def _tcp_socket_inode(local_port: int, remote_port: int) -> int | None:
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # fields: sl, local "HEXIP:HEXPORT", remote "HEXIP:HEXPORT", state, ..., inode at index 9
            local, remote, inode = (
                int(fields[1].rsplit(":", 1)[1], 16),
                int(fields[2].rsplit(":", 1)[1], 16),
                int(fields[9]),
            )
            if inode and local == local_port and remote == remote_port:
                return inode
    return None
