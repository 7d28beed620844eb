"""Control API for tests and benchmarks: reset, fault injection, the request log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response

from sandbox.context import context
from sandbox.faults import FaultSpec
from sandbox.posts import SAMPLE_MEDIA

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


@router.get("/posts")
async def list_posts(
    request: Request, platform: str | None = None, user_id: str | None = None, include_deleted: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """Every post the imitated platforms hold: the exactly-once tests count these per delivery."""
    posts = context(request).state.posts
    return {
        "posts": [
            asdict(p)
            for p in posts
            if (platform is None or p.platform == platform)
            and (user_id is None or p.user_id == user_id)
            and (include_deleted or not p.deleted)
        ]
    }


@router.get("/media/{name}")
async def sample_media(name: str) -> Response:
    """Sample media files posts can point at (`sample.png`, `sample.jpg`, `sample.mp4`), as a public media host."""
    sample = SAMPLE_MEDIA.get(name)
    if sample is None:
        raise HTTPException(404, f"no sample media {name!r}")
    content, media_type = sample
    return Response(content, media_type=media_type)
