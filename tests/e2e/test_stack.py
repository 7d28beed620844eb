"""The stack as `make run` starts it: real processes, real ports, data kept across restarts, clean shutdown."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from pathlib import Path

import httpx
from temporalio.client import Client, Schedule, ScheduleActionStartWorkflow, ScheduleSpec, ScheduleState

from adapters.temporal.client import data_converter
from settings import Settings
from tests.e2e.stack_support import api_url, pid_alive, start_stack
from workflows.retention import RetentionInput, RetentionWorkflow


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


def test_make_run_serves_stops_cleanly_and_keeps_data(stack_env: dict[str, str], tmp_path: Path) -> None:
    first, body = start_stack(stack_env, tmp_path / "run1.log")
    api = api_url(stack_env)
    settings = Settings(temporal_address=stack_env["TEMPORAL_ADDRESS"])
    try:
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
    assert not [pid for pid in pids if pid_alive(pid)], "every process the stack started has stopped"
    assert (Path(stack_env["DATA_DIR"]) / "temporal.db").exists()

    second, _ = start_stack(stack_env, tmp_path / "run2.log")
    api = api_url(stack_env)
    settings = Settings(temporal_address=stack_env["TEMPORAL_ADDRESS"])
    try:
        login = httpx.post(f"{api}/auth/login", json={"email": "keep@example.com", "password": "persistent password"})
        assert login.status_code == 200, "the SQLite data survived the restart"
        assert asyncio.run(_schedule_paused(settings)), "the Temporal data survived the restart"
    finally:
        assert second.stop(signal.SIGTERM) == 0
    assert not [pid for pid in second.child_pids() if pid_alive(pid)]


def test_a_taken_port_is_reported_at_once_and_the_stack_starts_on_others(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    # A socket bound but not listening: nothing answers on the port, yet Temporal cannot bind it.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        stack_env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{taken}"
        started = time.monotonic()
        stack, body = start_stack(stack_env, tmp_path / "run.log")
        try:
            assert body["checks"]["temporal"] == "ok"
            assert stack_env["TEMPORAL_ADDRESS"] != f"127.0.0.1:{taken}"
        finally:
            assert stack.stop() == 0
    failed = (tmp_path / "run.failed-1.log").read_text()
    assert "temporal exited with code" in failed
    assert f"127.0.0.1:{taken}: bind: address already in use" in failed
    # The failed start gave up when Temporal exited, not after the start timeout.
    assert time.monotonic() - started < 60
