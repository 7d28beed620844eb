"""Base of every API schema: camelCase JSON, unknown request fields rejected."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

from domain.errors import InvalidInput

T = TypeVar("T")

# I-JSON (RFC 7493): what every JSON reader, a browser's included, reads exactly. Firestore keeps 64 bits, but the
# emulator the tests run on, like the web frontend, does not.
_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 20


def _storable(value: Any, depth: int = 1) -> Any:
    """What every store keeps as it was sent (Firestore is the strictest): object keys non-empty, at most 1,500
    bytes and not `__name__`; integers within ±(2**53 - 1); finite numbers; no array directly in an array; at most 20
    objects and arrays deep, the one sent included. Each rule names what broke it."""
    if isinstance(value, dict | list) and depth > _MAX_DEPTH:
        raise ValueError(f"objects and arrays nest at most {_MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            reserved = len(key) >= 4 and key.startswith("__") and key.endswith("__")
            if not key or reserved or len(key.encode()) > 1500 or "\x00" in key:
                raise ValueError(f"key {key[:40]!r} is not allowed: keys are 1 to 1,500 bytes and not __name__")
            _storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, list):
                raise ValueError("an array may not hold another array directly (wrap it in an object)")
            _storable(item, depth + 1)
    elif isinstance(value, str) and "\x00" in value:
        raise ValueError("text may not hold the NUL character (\\u0000)")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int) and abs(value) > _SAFE_INTEGER:
        raise ValueError(f"{value} is past ±{_SAFE_INTEGER:,}, the integers JSON readers keep exactly")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite")
    return value


def _nul_at(value: Any, path: str) -> str | None:
    """The JSON path of the first string holding U+0000, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return inner
            if (found := _nul_at(item, inner)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _nul_at(item, f"{path}.{index}" if path else str(index))) is not None:
                return found
    return None


# A free-form JSON object a client sends (metadata, settings, a persona's profile, ...), kept as sent by every store.
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


def _hide_null(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The document says what the API takes: a `not_null` field may be left out (unchanged), never sent as null."""
    properties = schema.get("properties", {})
    for name in getattr(model, "not_null", ()):
        field = properties.get(to_camel(name))
        if field is None:
            continue
        kept = [branch for branch in field.get("anyOf", ()) if branch != {"type": "null"}]
        if len(kept) == 1:
            del field["anyOf"]
            field.update(kept[0])
        elif kept:
            field["anyOf"] = kept
        if field.get("default", 0) is None:
            del field["default"]


class ApiInput(ApiModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", json_schema_extra=_hide_null
    )
    # Fields that may be omitted but not sent as null: changes_of refuses null for them, and the OpenAPI document
    # leaves null out of their types. Other optional fields take null to clear a value.
    not_null: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_nul_character(cls, data: Any) -> Any:
        """PostgreSQL text cannot hold U+0000 (SQLite and Firestore would keep it): refused in every string of a
        body, keys included, on every store alike, naming where it is."""
        where = _nul_at(data, "")
        if where is not None:
            raise InvalidInput(f"{where or 'The body'} contains the NUL character (\\u0000), which text may not hold.",
                               field=where or "body", code="nul_character")  # fmt: skip
        return data


class PageOut(ApiModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page; null on the last page.")


class FieldProblem(ApiModel):
    field: str = Field(description="The field, by its JSON name (`credentials.password`, `items.0.url`)")
    message: str


class Problem(ApiModel):
    """RFC 9457 problem details, plus a stable `code`; some problems add members (`errors`, `blocking`, ...)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable and machine-readable: `not_found`, `proxy_in_use`, `invalid_input`, ...")
    errors: list[FieldProblem] | SkipJsonSchema[None] = Field(
        default=None, description="Invalid input: what is wrong with each field"
    )


def changes_of(body: ApiInput) -> dict[str, Any]:
    """The fields the caller sent (null included, to clear a reference); the body's `not_null` ones may not be null."""
    changes = body.model_dump(exclude_unset=True)
    for name in body.not_null:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"{to_camel(name)} cannot be null.", field=to_camel(name), code="null_not_allowed")
    return changes
