"""The OpenAPI document: declares the two ways to authenticate, on exactly the operations that need one.

Authentication is read from the headers by api.deps.get_principal (not by FastAPI's security classes, which cost a
sub-dependency per request), so the schemes are added here, once, when the document is first built."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from api.deps import get_principal

SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Access token from /auth/login"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "Organization API key"},
}


def _authenticates(dependant: Dependant) -> bool:
    return dependant.call is get_principal or any(_authenticates(d) for d in dependant.dependencies)


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
            schema.setdefault("components", {})["securitySchemes"] = SCHEMES
            # Routers are included, not copied: walk them as the OpenAPI generator does, with their prefixes.
            for context in iter_route_contexts(app.routes):
                route: Any = context
                if isinstance(context.original_route, APIRoute) and _authenticates(context.original_route.dependant):
                    operations = schema["paths"].get(route.path_format, {})
                    for method in route.methods or ():
                        if method.lower() in operations:
                            operations[method.lower()]["security"] = [{"bearer": []}, {"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
