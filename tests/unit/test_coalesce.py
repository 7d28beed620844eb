"""adapters.sql.coalesce: reads made together become one batch, and nobody's answer depends on a neighbour's."""

from __future__ import annotations

import asyncio

import pytest

from adapters.sql.coalesce import Coalescer

ROWS = {"a": 1, "b": 2, "c": 3}


class Database:
    def __init__(self, *, refuse: str | None = None, delay_s: float = 0.0) -> None:
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self.refuse = refuse
        self.delay_s = delay_s

    async def many(self, keys: list[str]) -> dict[str, int]:
        self.batches.append(list(keys))
        await asyncio.sleep(self.delay_s)
        if self.refuse in keys:
            raise ValueError(f"refused {self.refuse}")
        return {k: ROWS[k] for k in keys if k in ROWS}

    async def one(self, key: str) -> int | None:
        self.singles.append(key)
        if key == self.refuse:
            raise ValueError(f"refused {key}")
        return ROWS.get(key)


async def test_reads_made_in_one_turn_of_the_loop_are_one_batch() -> None:
    db = Database()
    reads = Coalescer(db.many, db.one)
    assert list(await asyncio.gather(reads.get("a"), reads.get("b"), reads.get("a"), reads.get("x"))) == [1, 2, 1, None]
    assert db.batches == [["a", "b", "x"]]
    assert await reads.get("c") == 3
    assert db.batches[1:] == [["c"]]


async def test_reads_asked_while_batches_are_in_flight_wait_and_go_out_together() -> None:
    db = Database(delay_s=0.01)
    reads = Coalescer(db.many, db.one, max_in_flight=1)
    first = asyncio.ensure_future(reads.get("a"))
    await asyncio.sleep(0)  # the first batch is out
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(reads.get(k)) for k in ("b", "c")]
    assert await asyncio.gather(first, *later) == [1, 2, 3]
    assert db.batches == [["a"], ["b", "c"]]


async def test_a_failed_batch_is_read_key_by_key_so_only_the_bad_key_fails() -> None:
    db = Database(refuse="bad")
    reads = Coalescer(db.many, db.one)
    results = await asyncio.gather(reads.get("a"), reads.get("bad"), reads.get("c"), return_exceptions=True)
    assert results[0] == 1
    assert results[2] == 3
    assert isinstance(results[1], ValueError)
    assert sorted(db.singles) == ["a", "bad", "c"]


async def test_a_caller_that_gives_up_cancels_only_its_own_read() -> None:
    db = Database(delay_s=0.01)
    reads = Coalescer(db.many, db.one)
    leaving = asyncio.ensure_future(reads.get("a"))
    staying = asyncio.ensure_future(reads.get("a"))
    await asyncio.sleep(0.001)
    leaving.cancel()
    assert await staying == 1
    with pytest.raises(asyncio.CancelledError):
        await leaving
