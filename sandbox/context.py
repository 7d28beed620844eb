"""The per-app sandbox context (config + state), reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from sandbox.config import SandboxConfig
from sandbox.state import SandboxState


@dataclass
class SandboxContext:
    config: SandboxConfig
    state: SandboxState


def context(request: Request) -> SandboxContext:
    ctx = request.app.state.sandbox
    if not isinstance(ctx, SandboxContext):
        raise TypeError("app was not built by sandbox.app.create_app")
    return ctx
