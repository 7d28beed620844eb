"""A real HTTP endpoint for webhook tests (uvicorn on a loopback port): records every request and answers each path
with the status codes it was told to, then 200."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from tests.support.net import LOOPBACK


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


class WebhookReceiver:
    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((LOOPBACK, 0))
        self.port: int = self._socket.getsockname()[1]
        self.received: list[Received] = []
        self._answers: dict[str, list[int]] = defaultdict(list)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    def url(self, path: str) -> str:
        return f"http://{LOOPBACK}:{self.port}{path}"

    def answer(self, path: str, *codes: int) -> None:
        """The next requests to `path` get these codes, in order; later ones get 200."""
        self._answers[path].extend(codes)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, path: str, count: int, within_s: float = 20) -> list[Received]:
        deadline = time.monotonic() + within_s
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, f"{path} received {len(self.at(path))} of {count} requests"
            await asyncio.sleep(0.05)
        return self.at(path)

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        path = request.url.path
        self.received.append(Received(path, {k.lower(): v for k, v in request.headers.items()}, body, time.time()))
        queue = self._answers[path]
        code = queue.pop(0) if queue else 200
        await Response(f"answer {code}", status_code=code)(scope, receive, send)

    async def start(self) -> WebhookReceiver:
        config = uvicorn.Config(
            self._app,
            host=LOOPBACK,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        # The socket is bound here and handed over: the port cannot be taken between picking and binding it.
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the webhook receiver did not start"
            await asyncio.sleep(0.02)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._socket.close()
