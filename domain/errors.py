"""Domain errors. Each carries a stable machine-readable `code`; the API maps the class to an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "error"
    title = "Error"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.extra = extra


class InvalidInput(DomainError):
    code = "invalid_input"
    title = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail, code=code, **extra)
        self.field = field


class Unauthorized(DomainError):
    code = "unauthorized"
    title = "Authentication required"


class Forbidden(DomainError):
    code = "forbidden"
    title = "Forbidden"


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"

    def __init__(self, resource: str, resource_id: str | None = None, *, code: str | None = None) -> None:
        detail = f"{resource} {resource_id!r} was not found." if resource_id else f"{resource} was not found."
        super().__init__(detail, code=code or f"{resource.lower().replace(' ', '_')}_not_found")
        self.resource = resource


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"


class Gone(DomainError):
    code = "gone"
    title = "Gone"


class TooManyRequests(DomainError):
    code = "too_many_requests"
    title = "Too many requests"

    def __init__(self, detail: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.retry_after_s = retry_after_s


class Unavailable(DomainError):
    code = "unavailable"
    title = "Service unavailable"
