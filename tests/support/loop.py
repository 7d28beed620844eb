"""Proof that the event loop kept running while a test waited on something."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Ticks:
    count = 0


@asynccontextmanager
async def loop_ticks(every_s: float = 0.01) -> AsyncIterator[Ticks]:
    """Counts wake-ups of a task sleeping `every_s` at a time, for as long as the block runs: a loop stalled by a
    blocking call counts none meanwhile."""
    ticks = Ticks()

    async def tick() -> None:
        while True:
            await asyncio.sleep(every_s)
            ticks.count += 1

    task = asyncio.create_task(tick())
    try:
        yield ticks
    finally:
        task.cancel()
