"""Point reads that arrive together go to the database as one statement.

On PostgreSQL most of the cost of reading one row by key is the round trip, not the lookup: a pool checkout, a
protocol exchange, a backend waking up, on both sides of a small machine's cores. When many requests read rows of
the same table at once (a page of the frontend fanning out, a burst of API clients), `Coalescer` sends the keys asked
for during one turn of the event loop, and any asked for while earlier batches are still in flight, as one batch. A
lone read waits for nothing but the next turn of the loop.

Each caller awaits its own future, so a caller that gives up (a client that disconnected) cancels only itself. A
batch that fails is read again key by key, so one bad key cannot fail its neighbours' requests, and each caller gets
the answer or the error its own read would have had.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(
        self,
        fetch_many: Callable[[list[K]], Awaitable[dict[K, V]]],
        fetch_one: Callable[[K], Awaitable[V | None]],
        *,
        max_in_flight: int = 2,
    ) -> None:
        """`fetch_many(keys)` answers the keys it found; `fetch_one(key)` is the read of one key, used when a batch
        fails. At most `max_in_flight` batches run at once: keys asked for meanwhile wait and go out together."""
        self._fetch_many = fetch_many
        self._fetch_one = fetch_one
        self._max_in_flight = max_in_flight
        self._waiting: dict[K, list[asyncio.Future[V | None]]] = {}
        self._in_flight = 0
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (tests run one per test): nothing pending belongs to it
            self._loop, self._waiting, self._in_flight, self._scheduled = loop, {}, 0, False
        future: asyncio.Future[V | None] = loop.create_future()
        self._waiting.setdefault(key, []).append(future)
        if not self._scheduled and self._in_flight < self._max_in_flight:
            self._scheduled = True
            loop.call_soon(self._dispatch)
        return await future

    def _dispatch(self) -> None:
        self._scheduled = False
        if not self._waiting or self._in_flight >= self._max_in_flight or self._loop is None:
            return
        batch, self._waiting = self._waiting, {}
        self._in_flight += 1
        task = self._loop.create_task(self._run(batch))
        self._tasks.add(task)  # held until done: the loop keeps only a weak reference to a task
        task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        try:
            try:
                found = await self._fetch_many(list(batch))
            except Exception:
                await self._one_by_one(batch)
            else:
                for key, futures in batch.items():
                    _settle(futures, found.get(key))
        except BaseException:  # cancelled with the loop's shutdown: nobody may be left waiting forever
            for futures in batch.values():
                for future in futures:
                    future.cancel()
            raise
        finally:
            self._in_flight -= 1
            if self._waiting and not self._scheduled and self._loop is not None:
                self._scheduled = True
                self._loop.call_soon(self._dispatch)

    async def _one_by_one(self, batch: dict[K, list[asyncio.Future[V | None]]]) -> None:
        for key, futures in batch.items():
            if all(f.done() for f in futures):
                continue
            try:
                value = await self._fetch_one(key)
            except Exception as exc:
                _fail(futures, exc)
            else:
                _settle(futures, value)


def _settle(futures: list[asyncio.Future[V | None]], value: V | None) -> None:
    for future in futures:
        if not future.done():
            future.set_result(value)


def _fail(futures: list[asyncio.Future[V | None]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            future.set_exception(exc)
