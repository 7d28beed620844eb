"""One FastAPI app serving all eight platform imitations, each under `/{platform}` + its real path."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request, Response

import sandbox.publishing
import sandbox.warming  # registers the engagement (warming) routes
from sandbox.config import SandboxConfig
from sandbox.context import SandboxContext
from sandbox.control import router as control_router
from sandbox.middleware import RequestLogMiddleware, fault_gate
from sandbox.oauth import OAuthFailure
from sandbox.platforms import all_platforms
from sandbox.platforms.base import PlatformError
from sandbox.registry import routers_for
from sandbox.state import SandboxState


def create_app(config: SandboxConfig | None = None, state: SandboxState | None = None) -> FastAPI:
    config = config or SandboxConfig()
    state = state or SandboxState()
    platforms = {p.name: p for p in all_platforms()}
    app = FastAPI(
        title="Platform sandbox",
        docs_url="/_sandbox/docs",
        redoc_url=None,
        openapi_url="/_sandbox/openapi.json",
        swagger_ui_oauth2_redirect_url="/_sandbox/docs/oauth2-redirect",
    )
    app.state.sandbox = SandboxContext(config=config, state=state)
    app.state.platforms = platforms

    for platform in platforms.values():
        for router in routers_for(platform):
            app.include_router(router, prefix=f"/{platform.name}", dependencies=[Depends(fault_gate(platform))])

    app.include_router(control_router)
    app.include_router(sandbox.warming.control_router)

    @app.exception_handler(PlatformError)
    async def platform_error(_: Request, exc: PlatformError) -> Response:
        return exc.response

    @app.exception_handler(OAuthFailure)
    async def oauth_failure(request: Request, exc: OAuthFailure) -> Response:
        # Raised only by platform routes, so the first path segment names the platform whose dialect to use.
        platform = platforms[request.url.path.strip("/").split("/", 1)[0]]
        return platform.token_error(exc.error, exc.description, exc.status)

    app.add_middleware(RequestLogMiddleware, state=state, platforms=frozenset(platforms))
    return app
