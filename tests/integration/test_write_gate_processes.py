"""SQLite writers of several processes queue on a file lock beside the database (adapters.sql.engine._ProcessesLock)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.sql.engine import WriteGate, gated

_HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the writers' lock for `seconds`."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def _free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


async def test_a_writer_waits_for_another_process_and_goes_the_moment_it_lets_go(tmp_path: Path) -> None:
    database = tmp_path / "app.db"
    gate = WriteGate(str(database))
    holder = _hold(tmp_path / "app.db-writers", 0.5)
    started = time.monotonic()
    ticks = 0

    async def loop_runs() -> None:  # the wait happens off the event loop
        nonlocal ticks
        while time.monotonic() - started < 0.4:
            ticks += 1
            await asyncio.sleep(0.01)

    async def write() -> float:
        async with gated(gate):
            return time.monotonic() - started

    waited, _ = await asyncio.gather(write(), loop_runs())
    holder.wait()
    assert 0.4 <= waited < 3
    assert ticks > 10
    assert _free(tmp_path / "app.db-writers")  # released after the write


async def test_a_writer_cancelled_while_waiting_leaves_the_lock_free(tmp_path: Path) -> None:
    gate = WriteGate(str(tmp_path / "app.db"))
    holder = _hold(tmp_path / "app.db-writers", 0.3)

    async def write() -> None:
        async with gated(gate):
            pytest.fail("the write ran though it was cancelled")

    waiting = asyncio.ensure_future(write())
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    holder.wait()
    deadline = time.monotonic() + 5
    while not _free(tmp_path / "app.db-writers"):  # the waiting thread got it, then gave it back
        assert time.monotonic() < deadline, "the lock stayed taken after its waiter was cancelled"
        await asyncio.sleep(0.05)
    async with gated(gate):  # and this process can still write
        pass
