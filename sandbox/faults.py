"""Fault injection: a queue of faults, each applying to the next `count` matching requests.

A fault matches a request when the platform is equal and `endpoint` is either the route's name ("token", "profile",
...) or an fnmatch glob over the path, with or without the platform prefix ("/2/users/*", "/x/2/oauth2/*", "*")."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, Field

FaultKind = Literal["rate_limit", "expire_token", "revoke_token", "server_error", "slow", "duplicate"]

# Faults handled before the endpoint runs; token faults are applied by authentication, duplicate by publishing.
GATE_KINDS: frozenset[str] = frozenset({"rate_limit", "server_error", "slow"})
TOKEN_KINDS: frozenset[str] = frozenset({"expire_token", "revoke_token"})


class FaultSpec(BaseModel):
    platform: str
    endpoint: str = "*"
    kind: FaultKind
    count: int = Field(default=1, ge=1)
    delay_s: float = Field(default=0.0, ge=0.0)
    retry_after_s: int = Field(default=60, ge=0)
    status: Literal[500, 502, 503] = 500  # for server_error


@dataclass
class Fault:
    id: int
    spec: FaultSpec
    remaining: int

    def matches(self, platform: str, endpoint: str | None, path: str) -> bool:
        if self.spec.platform != platform or self.remaining <= 0:
            return False
        pattern = self.spec.endpoint
        if endpoint is not None and pattern == endpoint:
            return True
        prefix = f"/{platform}"
        local = path[len(prefix) :] if path.startswith(prefix + "/") else path
        return fnmatchcase(path, pattern) or fnmatchcase(local, pattern)


def take_fault(
    faults: list[Fault], platform: str, endpoint: str | None, path: str, kinds: frozenset[str]
) -> Fault | None:
    """Consume one application of the oldest matching fault of the given kinds. Synchronous on purpose: no await
    between the check and the decrement, so two concurrent requests cannot both consume a count of 1."""
    for fault in faults:
        if fault.spec.kind in kinds and fault.matches(platform, endpoint, path):
            fault.remaining -= 1
            if fault.remaining <= 0:
                faults.remove(fault)
            return fault
    return None
