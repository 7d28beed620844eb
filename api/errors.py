"""One error shape for the whole API: RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from asyncpg.exceptions import CharacterNotInRepertoireError, UntranslatableCharacterError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic.alias_generators import to_camel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from temporalio.service import RPCError, RPCStatusCode

from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Gone,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_STATUS = {
    InvalidInput: 422,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    Gone: 410,
    TooManyRequests: 429,
    Unavailable: 503,
}
_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    410: ("gone", "Gone"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("invalid_input", "Invalid input"),
    429: ("too_many_requests", "Too many requests"),
}


def problem(
    status: int, code: str, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {
        "type": f"https://docs.souls.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) if isinstance(p, int) else to_camel(str(p)) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)  # noqa: S101
    status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 400)
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if isinstance(exc, InvalidInput) and exc.field:
        extra["errors"] = [{"field": exc.field, "message": exc.detail}]
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after_s)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    extra.update({k: v for k, v in exc.extra.items() if k not in extra})
    return problem(status, exc.code, exc.title, exc.detail, headers or None, **extra)


def _field_error(error: dict[str, Any]) -> dict[str, str]:
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":  # its loc is ("body", character offset): name the body, say where
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return {"field": "body", "message": f"The body is not valid JSON: {reason} (character {loc[-1]})."}
    return {"field": _field_path(loc), "message": error.get("msg", "is invalid")}


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [_field_error(e) for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "The request is invalid."
    return problem(422, "invalid_input", "Invalid input", detail, errors=errors)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) else title
    headers = dict(exc.headers) if exc.headers else {}
    if exc.status_code == 405:
        # Starlette names the methods of the first route on the path only (GET of /axon/accounts, not its POST).
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem(exc.status_code, code, title, detail, headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes on the request's path (RFC 9110: a 405 lists them all in Allow)."""
    path, root = request.scope["path"], request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        if route.path_format and route.methods and _path_regex(route.path_format).match(path):
            methods |= route.methods
    return sorted(methods)


@functools.cache
def _path_regex(path_format: str) -> re.Pattern[str]:
    return compile_path(path_format)[0]


def _refused_text(exc: BaseException) -> bool:
    """PostgreSQL refused a text value: U+0000, which it cannot hold. Bodies are checked before (api.schemas), but a
    path or query parameter can carry one; the driver's error may be wrapped by SQLAlchemy."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, CharacterNotInRepertoireError | UntranslatableCharacterError):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


async def _refused_text_error(_: Request, exc: Exception) -> JSONResponse:
    return _nul_character()


def _nul_character() -> JSONResponse:
    detail = "A parameter contains the NUL character (\\u0000), which text may not hold."
    return problem(422, "nul_character", "Invalid input", detail)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if _refused_text(exc):
        return _nul_character()
    if (
        isinstance(exc, DBAPIError)
        and not isinstance(exc, OperationalError | InterfaceError)
        and not (exc.connection_invalidated)
    ):
        return await _unexpected(request, exc)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem(
        503,
        "database_unavailable",
        "Service unavailable",
        "The database is not answering; retry shortly.",
        {"Retry-After": "5"},
    )


async def _temporal_error(request: Request, exc: Exception) -> JSONResponse:
    """The workflow service did not answer (a call the API makes on the way, e.g. a warming schedule's update)."""
    assert isinstance(exc, RPCError)  # noqa: S101
    if exc.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED):
        return await _unexpected(request, exc)
    log.warning("temporal unavailable on %s %s: %s", request.method, request.url.path, exc.status.name)
    return problem(503, "temporal_unavailable", "Service unavailable",
                   "The workflow service is not answering; retry shortly.", {"Retry-After": "5"})  # fmt: skip


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The message may contain anything (even a secret): log the type and location only, answer generically.
    log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc)
    return problem(500, "internal_error", "Internal error", "Something went wrong on our side; it was logged.")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    # Raised by the raw driver reads themselves (RawReader, the matrix store), not wrapped by SQLAlchemy.
    app.add_exception_handler(CharacterNotInRepertoireError, _refused_text_error)
    app.add_exception_handler(UntranslatableCharacterError, _refused_text_error)
    app.add_exception_handler(ConnectionError, _database_error)
    app.add_exception_handler(RPCError, _temporal_error)
    app.add_exception_handler(Exception, _unexpected)
