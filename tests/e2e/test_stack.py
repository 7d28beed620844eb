"""The stack as `make run` starts it: real processes, real ports, data kept across restarts, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleSpec, ScheduleState

from adapters.temporal.client import data_converter
from settings import Settings
from tests.support.net import free_port
from workflows.retention import RetentionInput, RetentionWorkflow

ROOT = Path(__file__).resolve().parents[2]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie awaiting its parent's wait() is gone for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


class RunningStack:
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
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self._out.close()
        return code


def _wait_ready(api: str, timeout_s: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{api}/health/ready", timeout=5)
            last = response.json()
            if response.status_code == 200:
                return dict(last)
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise AssertionError(f"stack never became ready: {last}")


async def _create_paused_schedule(settings: Settings) -> None:
    client = await Client.connect(settings.temporal_address, data_converter=data_converter(settings))
    await client.create_schedule(
        "persistence-check",
        Schedule(
            action=ScheduleActionStartWorkflow(
                RetentionWorkflow.run, RetentionInput(retention_days=1), id="persistence-check-run", task_queue="souls"
            ),
            spec=ScheduleSpec(cron_expressions=["0 0 1 1 *"]),
            state=ScheduleState(paused=True),
        ),
    )


async def _schedule_paused(settings: Settings) -> bool:
    client = await Client.connect(settings.temporal_address, data_converter=data_converter(settings))
    return (await client.get_schedule_handle("persistence-check").describe()).schedule.state.paused


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "API_", "TEMPORAL_"))}
    env.update(
        {
            "DATA_DIR": str(tmp_path / "data"),
            "API_PORT": str(free_port()),
            "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
            "TEMPORAL_UI_PORT": str(free_port()),
            "SANDBOX_PORT": str(free_port()),
            "LOG_LEVEL": "WARNING",
        }
    )
    return env


def test_make_run_serves_stops_cleanly_and_keeps_data(stack_env: dict[str, str], tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{stack_env['API_PORT']}"
    settings = Settings(temporal_address=stack_env["TEMPORAL_ADDRESS"])

    first = RunningStack(stack_env, tmp_path / "run1.log")
    try:
        body = _wait_ready(api)
        assert body["checks"] == {"database": "ok", "temporal": "ok", "worker": "ok"}
        assert httpx.get(f"{api}/docs").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{stack_env['TEMPORAL_UI_PORT']}/").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{stack_env['SANDBOX_PORT']}/_sandbox/requests").status_code == 200
        assert (
            httpx.post(
                f"{api}/auth/register",
                json={
                    "email": "keep@example.com",
                    "password": "persistent password",
                    "name": "K",
                    "organizationName": "Kept",
                },
            ).status_code
            == 201
        )
        asyncio.run(_create_paused_schedule(settings))
        output = first.log.read_text()
        assert api in output
        assert "Temporal UI" in output
    finally:
        code = first.stop()
    pids = first.child_pids()
    assert len(pids) == 4  # temporal, sandbox, worker, api
    assert code == 0
    assert not [pid for pid in pids if _pid_alive(pid)], "every process the stack started has stopped"
    assert (Path(stack_env["DATA_DIR"]) / "temporal.db").exists()

    second = RunningStack(stack_env, tmp_path / "run2.log")
    try:
        _wait_ready(api)
        login = httpx.post(f"{api}/auth/login", json={"email": "keep@example.com", "password": "persistent password"})
        assert login.status_code == 200, "the SQLite data survived the restart"
        assert asyncio.run(_schedule_paused(settings)), "the Temporal data survived the restart"
    finally:
        assert second.stop(signal.SIGTERM) == 0
    assert not [pid for pid in second.child_pids() if _pid_alive(pid)]
