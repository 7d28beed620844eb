"""The OpenAPI document: declares the two ways to authenticate, on exactly the operations that need one, and the
problem+json answers each operation can give.

Authentication is read from the headers by api.deps.get_principal (not by FastAPI's security classes, which cost a
sub-dependency per request), so the schemes are added here, once, when the document is first built. Errors come from
api.errors' handlers, not from the routes, so which ones an operation can answer follows from what it takes (a body,
parameters, authentication) and is added here too; a route declares only its own extra ones (`responses=`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from api.deps import get_principal
from api.errors import PROBLEM_JSON
from api.schemas import Problem

SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Access token from /auth/login"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "Organization API key"},
}


_PROBLEMS = {
    400: "The body is not valid JSON",
    401: "Not authenticated: no credentials, or an invalid, expired or revoked access token or API key",
    403: "The caller's role does not allow this",
    404: "Not found (another organization's records answer 404 as well)",
    409: "Conflicts with the current state; `code` says what blocks it",
    410: "The organization has been deleted",
    422: "Invalid input; `errors` names each field",
    429: "Too many requests; wait as long as Retry-After says",
    503: "The database or the workflow service is not answering; retry after Retry-After",
}
_WRITES = frozenset({"post", "put", "patch", "delete"})


def _problems(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses api.errors can give this operation, from what it takes."""
    if path == "/health/live":  # answers from the process alone
        return set()
    statuses = {503}
    parameters = operation.get("parameters", [])
    body = "requestBody" in operation
    if body:
        statuses |= {400, 422}
    if parameters:
        statuses.add(422)
    if "security" in operation:
        statuses |= {401, 403, 410}
        # Path ids, and ids in a body, name records that may not exist (or belong to another organization).
        if body or any(p.get("in") == "path" for p in parameters):
            statuses.add(404)
        if method in _WRITES:
            statuses.add(409)
    return statuses


def _declare_problems(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(problem.pop("$defs", {}))
    components["Problem"] = problem
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if responses.get("422", {}).get("description") == "Validation Error":  # FastAPI's, for its own shape
                responses["422"]["description"] = _PROBLEMS[422]
            for status in sorted(_problems(path, method, operation)):
                responses.setdefault(str(status), {"description": _PROBLEMS[status]})
            for status, response in responses.items():
                if int(status) >= 400:  # every error is a problem, also those routes declare by description only
                    response["content"] = content
            operation["responses"] = dict(sorted(responses.items()))
    # FastAPI's validation error shapes are never answered (api.errors turns them into problems).
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)


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
            _declare_problems(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
