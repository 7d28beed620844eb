"""Request log (every platform request, with the socket peer) and the fault gate run before each platform route."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.context import context
from sandbox.faults import GATE_KINDS, take_fault
from sandbox.platforms.base import Platform, PlatformError
from sandbox.state import RequestRecord, SandboxState


class RequestLogMiddleware:
    """Pure ASGI so it sees the raw scope: `client` is the TCP peer (run uvicorn with proxy_headers off so a forged
    X-Forwarded-For cannot rewrite it; proxy tests rely on seeing the proxy as the peer)."""

    def __init__(self, app: ASGIApp, state: SandboxState, platforms: frozenset[str]) -> None:
        self.app = app
        self.state = state
        self.platforms = platforms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        first = path.strip("/").split("/", 1)[0]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client")
        record = RequestRecord(
            method=scope.get("method", ""),
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            platform=first if first in self.platforms else None,
            endpoint=None,
            peer_host=client[0] if client else None,
            peer_port=client[1] if client else None,
            forwarded_for=headers.get("x-forwarded-for"),
            status=None,
            timestamp=self.state.now(),
        )
        self.state.log_request(record)

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = scope.get("route")
            record.endpoint = getattr(route, "name", None)


def fault_gate(platform: Platform) -> Callable[[Request], Awaitable[None]]:
    async def gate(request: Request) -> None:
        state = context(request).state
        route = request.scope.get("route")
        fault = take_fault(state.faults, platform.name, getattr(route, "name", None), request.url.path, GATE_KINDS)
        if fault is None:
            return
        if fault.spec.kind == "slow":
            # Take the whole request first, as a real platform does before it works on it: a client that gives up
            # (or dies) while waiting does not undo the work. That is the case exactly-once publishing must survive.
            await request.body()
            await asyncio.sleep(fault.spec.delay_s)
        elif fault.spec.kind == "rate_limit":
            raise PlatformError(platform.rate_limited(fault.spec.retry_after_s, state.now()))
        else:
            raise PlatformError(platform.server_error(fault.spec.status))

    return gate
