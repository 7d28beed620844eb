"""`make run`: the whole stack on the embedded default, in one terminal.

Starts Temporal's dev server (file persistence under DATA_DIR, Web UI), the worker and the API; prints the URLs;
on Ctrl-C or SIGTERM stops every process it started (API first, Temporal last) and waits for them.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.temporal.devserver import dynamic_config_args, search_attribute_args, temporal_cli  # noqa: E402
from cli import migrate  # noqa: E402
from settings import Settings  # noqa: E402

_STOP_TIMEOUT_S = 20
# Generous: on a loaded machine (the test suite runs several stacks at once) the first start creates Temporal's schema.
_START_TIMEOUT_S = 120
_LOG_TAIL_LINES = 5


class Stack:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.logs: dict[str, Path] = {}
        self.stopping = False

    def start(self, name: str, argv: list[str], log_path: Path | None = None) -> None:
        out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - the child owns it until exit
        # A session of its own: Ctrl-C reaches this supervisor only, which then stops children in order.
        proc = subprocess.Popen(
            argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True
        )
        self.procs.append((name, proc))
        if log_path:
            self.logs[name] = log_path
        print(f"  started {name} (pid {proc.pid})", flush=True)

    def stop(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        print("\nstopping...", flush=True)
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    print(f"  {name} did not stop in {_STOP_TIMEOUT_S}s; killing it", flush=True)
                    proc.kill()
                    proc.wait()
            print(f"  stopped {name}", flush=True)

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.procs:
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def report_exit(self, name: str, code: int) -> None:
        """Says which process ended and, from its log file, why (a port taken, a locked database, ...)."""
        print(f"{name} exited with code {code}", file=sys.stderr)
        log = self.logs.get(name)
        if log and log.exists():
            tail = log.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
            print("\n".join(f"  {name}: {line}" for line in tail), file=sys.stderr, flush=True)

    def wait_until(self, ready: Callable[[], bool], timeout_s: float) -> bool:
        """Polls `ready` until it holds; gives up early (False) when a started process has exited, and says why."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (exited := self.first_exited()) is not None:
                self.report_exit(*exited)
                return False
            if ready():
                return True
            time.sleep(0.2)
        return False


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own local URL
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> int:
    settings = Settings()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "logs").mkdir(exist_ok=True)
    print(f"data folder: {data_dir}")
    print("applying migrations...", flush=True)
    migrate(settings.effective_database_url)

    host, _, port = settings.temporal_address.rpartition(":")
    stack = Stack()

    def _on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _on_signal)
    try:
        stack.start(
            "temporal",
            [
                temporal_cli(),
                "server",
                "start-dev",
                "--db-filename",
                str(data_dir / "temporal.db"),
                "--ip",
                host or "localhost",
                "--port",
                port,
                "--ui-port",
                str(settings.temporal_ui_port),
                "--namespace",
                settings.temporal_namespace,
                "--log-level",
                "warn",
                *search_attribute_args(),
                *dynamic_config_args(),
            ],
            data_dir / "logs" / "temporal.log",
        )
        if not stack.wait_until(lambda: port_open(host or "localhost", int(port)), _START_TIMEOUT_S):
            print(f"Temporal did not start; see {data_dir / 'logs' / 'temporal.log'}", file=sys.stderr)
            return 1
        os.environ["PYTHONUNBUFFERED"] = "1"
        # On one machine the webhook receivers a developer tries are local ones (settings: webhook_private_targets).
        os.environ.setdefault("WEBHOOK_PRIVATE_TARGETS", "true")
        if settings.sandbox_enabled:
            stack.start("sandbox", [sys.executable, "-m", "sandbox", "--port", str(settings.sandbox_port)],
                        data_dir / "logs" / "sandbox.log")  # fmt: skip
        stack.start("worker", [sys.executable, str(ROOT / "worker.py")])
        stack.start("api", [sys.executable, "-m", "api"])
        if not stack.wait_until(lambda: http_ok(f"{settings.api_url}/health/live"), _START_TIMEOUT_S):
            print("the API did not start", file=sys.stderr)
            return 1
        lines = [
            "",
            "The stack is running:",
            f"  API          {settings.api_url}   (OpenAPI: {settings.api_url}/docs)",
            f"  Readiness    {settings.api_url}/health/ready",
            f"  Temporal UI  {settings.temporal_ui_url}",
            f"  Temporal     {settings.temporal_address} (namespace {settings.temporal_namespace})",
        ]
        if settings.sandbox_enabled:
            lines.append(f"  Sandbox      {settings.sandbox_url}   (the eight platforms; control API at /_sandbox)")
        lines += [f"  Data         {data_dir}", "Press Ctrl-C to stop.", ""]
        print("\n".join(lines), flush=True)
        while (exited := stack.first_exited()) is None:
            time.sleep(0.5)
        stack.report_exit(*exited)
        print("stopping the rest", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
