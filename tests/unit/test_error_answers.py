"""An error the API meets on the way answers as problem+json, never a bare 500: the workflow service not answering
is a 503 with Retry-After (the change the request made stands, the caller may retry); any other Temporal error is the
generic 500, its message (which could hold anything) never sent."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from temporalio.service import RPCError, RPCStatusCode

from api.errors import install


def _app(status: RPCStatusCode) -> FastAPI:
    app = FastAPI()
    install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RPCError("connection refused to secret-host:7233", status, b"")

    return app


async def _get(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/boom")


async def test_temporal_unavailable_is_a_503_to_retry() -> None:
    response = await _get(_app(RPCStatusCode.UNAVAILABLE))
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"] == "5"
    assert response.json()["code"] == "temporal_unavailable"
    assert "secret-host" not in response.text


async def test_another_temporal_error_is_the_generic_500() -> None:
    response = await _get(_app(RPCStatusCode.INVALID_ARGUMENT))
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "secret-host" not in response.text
