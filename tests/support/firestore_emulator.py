"""In-memory Firestore emulator for tests: the npm package ``@firestore-emulator/server`` run by
``tools/firestore-emulator/serve.mjs`` as a subprocess, plus an ``AsyncClient`` factory pointed at it.

    with FirestoreEmulator() as emulator:
        client = async_client("demo-test", emulator.host)
        ...
        await emulator.reset_async()  # wipe every document between tests

The emulator keeps everything in memory and does not isolate transactions: concurrent read-modify-write transactions
lose updates instead of being aborted and retried.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO
from unittest import mock

import httpx
from google.cloud.firestore import AsyncClient

from tests.support.net import LOOPBACK as _LOOPBACK
from tests.support.net import accepts_connections, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
EMULATOR_DIR = REPO_ROOT / "tools" / "firestore-emulator"
LAUNCHER = EMULATOR_DIR / "serve.mjs"
_START_ATTEMPTS = 3
_INSTALLED_MARKER = EMULATOR_DIR / "node_modules" / "@firestore-emulator" / "server" / "package.json"


class FirestoreEmulatorError(RuntimeError):
    """The emulator could not be installed or started."""


def ensure_installed(npm: str | None = None) -> None:
    """Run ``npm install`` in tools/firestore-emulator when its node_modules is missing."""
    if _INSTALLED_MARKER.is_file():
        return
    npm_bin = npm or shutil.which("npm")
    if npm_bin is None:
        raise FirestoreEmulatorError("npm not found on PATH: cannot install the Firestore emulator")
    result = subprocess.run(
        [npm_bin, "install", "--prefix", str(EMULATOR_DIR), "--no-audit", "--no-fund"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0 or not _INSTALLED_MARKER.is_file():
        raise FirestoreEmulatorError(
            f"npm install for the Firestore emulator failed (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )


class FirestoreEmulator:
    """A Firestore emulator subprocess on 127.0.0.1 (gRPC on ``port``, reset endpoint on ``admin_port``)."""

    def __init__(self, startup_timeout: float = 30.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = 0
        self.admin_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT`` — the value FIRESTORE_EMULATOR_HOST would take."""
        if self._process is None:
            raise FirestoreEmulatorError("emulator not started")
        return f"{_LOOPBACK}:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://{_LOOPBACK}:{self.admin_port}"

    def start(self) -> FirestoreEmulator:
        if self._process is not None:
            return self
        node = shutil.which("node")
        if node is None:
            raise FirestoreEmulatorError("node not found on PATH: the Firestore emulator needs Node.js")
        ensure_installed()
        # A port picked as free can be taken before the emulator binds it (see serve_on_free_port): it then exits
        # at once, and starts again on other ports.
        for attempt in range(1, _START_ATTEMPTS + 1):
            failed = self._launch(node)
            if failed is None:
                return self
            exited, reason = failed
            if not exited or attempt == _START_ATTEMPTS:
                raise FirestoreEmulatorError(f"Firestore emulator {reason}")
        raise AssertionError("unreachable")

    def _launch(self, node: str) -> tuple[bool, str] | None:
        """Starts the emulator on two free ports: None once it listens on both; else, the emulator stopped, whether
        it had exited (rather than hung) and what happened."""
        self.port, self.admin_port = free_port(), free_port()
        self._log = tempfile.TemporaryFile(prefix="firestore-emulator-")  # noqa: SIM115 - closed in stop()
        ports = ["--port", str(self.port), "--admin-port", str(self.admin_port)]
        self._process = subprocess.Popen(
            [node, str(LAUNCHER), "--host", _LOOPBACK, *ports],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while not (accepts_connections(self.port) and accepts_connections(self.admin_port)):
            code = self._process.poll()
            if code is not None or time.monotonic() > deadline:
                what = f"exited with code {code}" if code is not None else f"not up in {self.startup_timeout}s"
                output = self.output()
                self.stop()
                return code is not None, f"{what}; output:\n{output}"
            time.sleep(0.05)
        return None

    def output(self) -> str:
        """Everything the emulator printed so far (stdout and stderr)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

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

    def _reset_path(self, project: str) -> str:
        return f"/emulator/v1/projects/{project}/databases/(default)/documents"

    def reset(self, project: str = "any") -> None:
        """Delete every document of every project (the emulator has a single in-memory state)."""
        conn = http.client.HTTPConnection(_LOOPBACK, self.admin_port, timeout=10)
        try:
            conn.request("DELETE", self._reset_path(project))
            response = conn.getresponse()
            response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise FirestoreEmulatorError(f"emulator reset failed: HTTP {response.status}")

    async def reset_async(self, project: str = "any") -> None:
        """Same as :meth:`reset`, without blocking the event loop."""
        async with httpx.AsyncClient(base_url=self.admin_url, timeout=10) as http_client:
            response = await http_client.delete(self._reset_path(project))
        if response.status_code != 200:
            raise FirestoreEmulatorError(f"emulator reset failed: HTTP {response.status_code}")

    def __enter__(self) -> FirestoreEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def async_client(project: str, host: str) -> AsyncClient:
    """An AsyncClient talking plaintext gRPC to the emulator at ``host`` (``HOST:PORT``).

    google-cloud-firestore only switches to an insecure channel when FIRESTORE_EMULATOR_HOST is set, and it reads the
    variable once, in ``__init__`` (``client_options={"api_endpoint": ...}`` alone still opens a TLS channel). So the
    variable is set just for the constructor call and restored right after: nothing global leaks, and several clients
    can target different emulators. With the variable set and no credentials given, the client uses
    AnonymousCredentials and sends the emulator's "Bearer owner" token.
    """
    with mock.patch.dict(os.environ, {"FIRESTORE_EMULATOR_HOST": host}):
        return AsyncClient(project=project)
