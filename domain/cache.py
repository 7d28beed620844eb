"""A small in-process cache with a time to live, for values that may be briefly stale (authenticated principals)."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        # Counts clears: a value computed from what was read before a clear must not be stored after it.
        self.generation = 0

    def get(self, key: K) -> V | None:
        if self.ttl_s <= 0:
            return None
        hit = self._entries.get(key)
        if hit is None:
            return None
        expires, value = hit
        if expires < time.monotonic():
            self._entries.pop(key, None)
            return None
        return value

    def put(self, key: K, value: V) -> None:
        if self.ttl_s <= 0:
            return
        self._entries[key] = (time.monotonic() + self.ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
        self.generation += 1

    def __len__(self) -> int:
        return len(self._entries)
