"""Keyset pagination: a stable order by (created_at, id) and an opaque cursor naming the last row seen."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from domain.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), self.id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            padded = text + "=" * (-len(text) % 4)
            created, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
            return cls(created_at=datetime.fromisoformat(created), id=str(ident))
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise InvalidInput("The cursor is not valid.", field="cursor", code="invalid_cursor") from None


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None
