from __future__ import annotations

import time

from domain.cache import TtlCache


def test_values_expire_after_the_ttl() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_s=0.05)
    cache.put("a", 1)
    assert cache.get("a") == 1
    time.sleep(0.06)
    assert cache.get("a") is None


def test_oldest_entries_are_evicted_beyond_the_size_limit() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_s=60, max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, 2, 3)


def test_a_zero_ttl_disables_caching() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl_s=0)
    cache.put("a", 1)
    assert cache.get("a") is None
    assert len(cache) == 0
