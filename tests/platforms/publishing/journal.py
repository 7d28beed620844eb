"""An in-memory PublishJournal for the publishing tests: what a delivery's durable notes look like after a crash is
just a dict, so a test can pre-fill it as a crashed run would have left it and inspect what a run wrote."""

from __future__ import annotations


class MemoryJournal:
    """Dict-backed PublishJournal; `values` is public so tests can pre-fill and inspect it."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values: dict[str, str] = dict(values or {})

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def record(self, key: str, value: str) -> None:
        self.values[key] = value

    def remember(self, key: str, value: str) -> None:
        self.values[key] = value
