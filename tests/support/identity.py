"""Factories for identity entities in tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.identity.accounts import Account
from domain.identity.personas import Persona
from domain.identity.platforms import Platform
from domain.identity.proxies import Proxy, ProxyProtocol, ProxyType
from domain.identity.souls import Soul

_clock = [datetime(2026, 1, 1, tzinfo=UTC)]


def tick() -> datetime:
    """Strictly increasing timestamps, so creation order is unambiguous in every store."""
    _clock[0] += timedelta(milliseconds=1)
    return _clock[0]


def new_id() -> str:
    return str(uuid.uuid4())


def soul(org: str, name: str = "Brand", **kw: Any) -> Soul:
    now = tick()
    return Soul(id=new_id(), organization_id=org, name=name, created_at=now, updated_at=now, **kw)


def persona(org: str, name: str = "Voice", **kw: Any) -> Persona:
    now = tick()
    return Persona(id=new_id(), organization_id=org, name=name, created_at=now, updated_at=now, **kw)


def proxy(org: str, name: str = "Proxy", **kw: Any) -> Proxy:
    now = tick()
    values: dict[str, Any] = {
        "type": ProxyType.RESIDENTIAL,
        "protocol": ProxyProtocol.HTTP,
        "host": "10.0.0.1",
        "port": 8080,
    }
    values.update(kw)
    return Proxy(id=new_id(), organization_id=org, name=name, created_at=now, updated_at=now, **values)


def account(org: str, soul_id: str, handle: str | None = None, platform: Platform = Platform.X, **kw: Any) -> Account:
    now = tick()
    return Account(
        id=new_id(), organization_id=org, soul_id=soul_id, platform=platform,
        handle=handle or f"h{uuid.uuid4().hex[:10]}", created_at=now, updated_at=now, **kw,
    )  # fmt: skip
