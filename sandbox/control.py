"""Control API for tests and benchmarks: reset, fault injection, the request log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from sandbox.context import context
from sandbox.faults import FaultSpec

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


@router.post("/reset")
async def reset(request: Request) -> dict[str, bool]:
    await context(request).state.reset()
    return {"reset": True}


@router.post("/faults", status_code=201)
async def add_fault(spec: FaultSpec, request: Request) -> dict[str, Any]:
    if spec.platform not in request.app.state.platforms:
        raise HTTPException(422, f"unknown platform {spec.platform!r}")
    fault = await context(request).state.add_fault(spec)
    return {"id": fault.id, **spec.model_dump()}


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, list[dict[str, Any]]]:
    faults = context(request).state.faults
    return {"faults": [{"id": f.id, "remaining": f.remaining, **f.spec.model_dump()} for f in faults]}


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, bool]:
    state = context(request).state
    async with state.lock:
        state.faults.clear()
    return {"cleared": True}


@router.get("/requests")
async def list_requests(request: Request, platform: str | None = None) -> dict[str, list[dict[str, Any]]]:
    records = context(request).state.requests
    return {"requests": [asdict(r) for r in records if platform is None or r.platform == platform]}


@router.delete("/requests")
async def clear_requests(request: Request) -> dict[str, bool]:
    context(request).state.requests.clear()
    return {"cleared": True}
