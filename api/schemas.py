"""Base of every API schema: camelCase JSON, unknown request fields rejected."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

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
