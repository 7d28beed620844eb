"""The stack as `make run` starts it (scripts/stack.py), for the end-to-end tests: random ports, a data folder of the
test's own, readiness polling, and a check that every process it started is gone."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]

# Settings the test sets itself: an inherited value (a developer's shell, CI) must not point the stack elsewhere.
_OWN_PREFIXES = ("DATABASE_URL", "API_", "TEMPORAL_", "SANDBOX_", "PROXY_CHECK_", "DATA_DIR", "PLATFORM_")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its parent's wait() is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def _free_ports() -> dict[str, str]:
    return {
        "API_PORT": str(free_port()),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "TEMPORAL_UI_PORT": str(free_port()),
        "SANDBOX_PORT": str(free_port()),
    }


def stack_env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a stack on free ports with its data under `data_dir`; `extra` adds or overrides settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env.update({"DATA_DIR": str(data_dir), **_free_ports(), "LOG_LEVEL": "WARNING", **extra})
    return env


def api_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['API_PORT']}"


def sandbox_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['SANDBOX_PORT']}"


class RunningStack:
    """`make run` in a subprocess; everything it and its children print goes to `log`."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "scripts/stack.py"],
            cwd=ROOT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r"started \w+ \(pid (\d+)\)", self.log.read_text())]

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self._out.close()
        return code


class StackExited(AssertionError):
    pass


def wait_ready(api: str, timeout_s: float = 150, stack: RunningStack | None = None) -> dict[str, Any]:
    """The readiness answer once database, Temporal and worker are all ok; fails early when the stack has exited."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        if stack is not None and stack.proc.poll() is not None:
            raise StackExited(f"the stack exited with {stack.proc.returncode}:\n{stack.log.read_text()[-4000:]}")
        try:
            response = httpx.get(f"{api}/health/ready", timeout=5)
            last = response.json()
            if response.status_code == 200:
                return dict(last)
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.3)
    raise AssertionError(f"stack never became ready: {last}")


def start_stack(env: dict[str, str], log: Path, attempts: int = 3) -> tuple[RunningStack, dict[str, Any]]:
    """`make run` until ready, with its readiness answer. A free port is only free when it is picked: with several test
    processes opening connections, another socket can take it before the stack binds it. Then the stack says so and
    exits, and it starts again on other ports, written into `env` (read the URLs from `env` after this returns)."""
    for attempt in range(1, attempts + 1):
        stack = RunningStack(env, log)
        try:
            return stack, wait_ready(api_url(env), stack=stack)
        except StackExited:
            stack.stop()
            if attempt == attempts or "address already in use" not in log.read_text():
                raise
            log.rename(log.with_name(f"{log.stem}.failed-{attempt}{log.suffix}"))
            env.update({k: v for k, v in _free_ports().items() if k != "SANDBOX_PORT" or _runs_sandbox(env)})
        except BaseException:
            stack.stop()
            raise
    raise AssertionError("unreachable")


def _runs_sandbox(env: dict[str, str]) -> bool:
    return env.get("SANDBOX_ENABLED", "true").lower() not in ("false", "0", "no")
