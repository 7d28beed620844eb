"""Several API processes, each accepting connections on its own listening socket of one SO_REUSEPORT group.

uvicorn's own workers share one listening socket, and the first worker to wake accepts every connection waiting:
clients that connect together and keep their connections alive (a frontend's pool, a proxy, a load generator) end up
on one process while the other idles. Measured with 32 keep-alive clients and 2 workers: in 2 runs of 5 one worker
served every request, at 14-15k req/s instead of 23-27k. With a socket per worker the kernel spreads new connections
over the workers itself.

The supervisor keeps one socket of the group bound but not listening, so the port stays the server's while a worker
restarts (a socket that does not listen receives no connections), and a port already in use fails at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from adapters.logs import configure_logging
from api.http_protocol import GatheringHttpToolsProtocol
from settings import Settings

log = logging.getLogger(__name__)

# A worker that exits sooner than this after it started failed to start: starting it again would fail the same way.
_STARTUP_S = 5.0
_STOP_TIMEOUT_S = 30.0
_ORPHAN_CHECK_S = 0.5


def listener(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        "api.main:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        http=GatheringHttpToolsProtocol,
    )


def _worker() -> None:
    """One worker process: the settings again from the environment, its own socket, one uvicorn server."""
    settings = Settings()
    configure_logging(settings.log_level)
    sock = listener(settings.api_host, settings.api_port)
    server = uvicorn.Server(uvicorn_config(settings))
    threading.Thread(target=_exit_with_supervisor, args=(server, os.getppid()), daemon=True).start()
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)


def _exit_with_supervisor(server: uvicorn.Server, supervisor: int) -> None:
    """A supervisor killed outright (SIGKILL, OOM) cannot stop its workers: each notices it is gone and shuts down,
    rather than serving on as an orphan nobody supervises, holding the port."""
    while os.getppid() == supervisor:
        time.sleep(_ORPHAN_CHECK_S)
    log.warning("the API supervisor %s is gone; this worker stops", supervisor)
    server.should_exit = True


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._workers: list[tuple[BaseProcess, float]] = []
        self._stopping = False

    def run(self) -> int:
        try:
            reserved = listener(self._settings.api_host, self._settings.api_port)
        except OSError as exc:
            log.error("cannot listen on %s:%s: %s", self._settings.api_host, self._settings.api_port, exc)
            return 1
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop)
        with reserved:
            self._workers = [self._start() for _ in range(self._settings.api_workers)]
            status = self._watch()
            self._shut_down()
        return status

    def _start(self) -> tuple[BaseProcess, float]:
        process = self._context.Process(target=_worker, name="souls-api-worker")
        process.start()
        log.info("API worker %s started", process.pid)
        return process, time.monotonic()

    def _watch(self) -> int:
        while not self._stopping:
            for i, (process, started) in enumerate(self._workers):
                if process.is_alive():
                    continue
                if time.monotonic() - started < _STARTUP_S:
                    log.error("API worker %s exited during start (code %s)", process.pid, process.exitcode)
                    return 1
                log.warning("API worker %s exited (code %s); starting another", process.pid, process.exitcode)
                self._workers[i] = self._start()
            time.sleep(0.2)
        return 0

    def _shut_down(self) -> None:
        for process, _ in self._workers:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way, then exits
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        for process, _ in self._workers:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True


def serve(settings: Settings) -> None:
    if settings.api_workers == 1:
        server = uvicorn.Server(uvicorn_config(settings))
        server.run()
        if not server.started:  # as uvicorn.run: a server that never started (its port taken, say) fails
            sys.exit(3)
        return
    sys.exit(Supervisor(settings).run())
