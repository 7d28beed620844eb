"""Base of every API schema: camelCase JSON, unknown request fields rejected."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from domain.errors import InvalidInput

T = TypeVar("T")


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class ApiInput(ApiModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class PageOut(ApiModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


class Problem(ApiModel):
    """RFC 9457 problem details, plus a stable `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str


def changes_of(body: ApiInput, *, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """The fields the caller sent (null included, to clear a reference); required ones may not be null."""
    changes = body.model_dump(exclude_unset=True)
    for name in required:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{to_camel(name)} cannot be null.", field=to_camel(name), code="null_not_allowed")
    return changes
