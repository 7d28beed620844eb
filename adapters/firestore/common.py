"""Shared pieces of the Firestore document store: layout, document conversion, keyset pages, the client.

Layout: `orgs/{organizationId}/{souls|personas|accounts|proxies}/{id}`, plus `orgs/{org}/accountHandles/{platform}:
{handle}` documents that make a handle unique per organization and platform. Fields are camelCase, as in the PRD.
Back-references (`accountIds`, `assignedAccountIds`) change only through ArrayUnion/ArrayRemove transforms inside
the same transaction as the account, so concurrent writers never lose one another's entries.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from google.cloud.firestore import AsyncClient, AsyncCollectionReference, AsyncDocumentReference, AsyncQuery
from google.cloud.firestore_v1.base_query import FieldFilter
from pydantic import BaseModel
from pydantic.alias_generators import to_camel, to_snake

from domain.identity.ports import RecordChanged
from domain.pagination import Cursor, Page, PageRequest

M = TypeVar("M", bound=BaseModel)


@contextmanager
def _emulator_env(host: str) -> Iterator[None]:
    # The client chooses a plaintext channel and anonymous credentials only when this variable is set while it is
    # constructed; setting it just for the constructor keeps the process environment as it was.
    before = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = before


def connect(project: str, emulator_host: str = "") -> AsyncClient:
    if emulator_host:
        with _emulator_env(emulator_host):
            return AsyncClient(project=project)
    return AsyncClient(project=project)


class Layout:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    def collection(self, organization_id: str, kind: str) -> AsyncCollectionReference:
        return self.client.collection("orgs", organization_id, kind)

    def doc(self, organization_id: str, kind: str, doc_id: str) -> AsyncDocumentReference:
        return self.collection(organization_id, kind).document(document_id(doc_id))


# No record has this id: ours are UUIDs, and Firestore takes it (it refuses the ids document_id replaces with it).
NO_SUCH_DOCUMENT = "~no-such-document"


def document_id(raw: str) -> str:
    """`raw`, or NO_SUCH_DOCUMENT when Firestore would refuse it as a document id: empty, over 1,500 bytes, `.` or
    `..`, `__...__`, or with a slash (which would even name a document elsewhere). Records get server-made ids, so an
    id like this can only come from a client, as a reference or in a path, and names no record: it reads as missing
    (404, or 422 naming the reference) instead of failing the request."""
    reserved = len(raw) >= 4 and raw.startswith("__") and raw.endswith("__")
    if not raw or "/" in raw or raw in (".", "..") or reserved or len(raw.encode()) > 1500:
        return NO_SUCH_DOCUMENT
    return raw


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_doc(model: BaseModel, *, exclude: set[str] | None = None) -> dict[str, Any]:
    """Top-level fields in camelCase; nested maps keep their own keys."""
    return {to_camel(k): _plain(v) for k, v in model.model_dump(exclude=exclude).items()}


def from_doc(cls: type[M], data: dict[str, Any], **extra: Any) -> M:
    fields = cls.model_fields
    values = {to_snake(k): v for k, v in data.items() if to_snake(k) in fields}
    for key, value in values.items():
        if isinstance(value, datetime):  # DatetimeWithNanoseconds -> plain datetime
            values[key] = datetime.fromtimestamp(value.timestamp(), tz=value.tzinfo).replace(
                microsecond=value.microsecond
            )
    return cls.model_validate({**values, **extra})


def check_version(snap: Any, resource: str, expected_updated_at: datetime | None) -> None:
    """In a transaction's read: RecordChanged when the document's updatedAt is no longer the one the caller read."""
    if expected_updated_at is None:
        return
    stored = (snap.to_dict() or {}).get("updatedAt")
    # DatetimeWithNanoseconds compares as a datetime; stored times are whole microseconds (written from datetimes).
    if not isinstance(stored, datetime) or stored != expected_updated_at:
        raise RecordChanged(resource, snap.id)


# Documents sharing the cursor's exact timestamp are skipped client-side; this many extra are read to cover them.
_TIE_SLACK = 20


async def keyset_page(
    query: AsyncQuery | AsyncCollectionReference, page: PageRequest
) -> tuple[list[dict[str, Any]], str | None]:
    """Documents in (createdAt, id) order after the page's cursor; every document stores its own `id`.

    The cursor is applied as a range filter on createdAt (plus a client-side cut for ties) rather than `start_after`:
    both work on Firestore, and the npm emulator the tests use ignores `start_after` silently.
    """
    limit = page.limit + 1
    if page.after is not None:
        query = query.where(filter=FieldFilter("createdAt", ">=", page.after.created_at))
        limit += _TIE_SLACK
    query = query.order_by("createdAt").order_by("id").limit(limit)
    docs = [snap.to_dict() or {} async for snap in query.stream()]
    if page.after is not None:
        after = (page.after.created_at, page.after.id)
        docs = [d for d in docs if (d["createdAt"], d["id"]) > after]
    more = len(docs) > page.limit
    docs = docs[: page.limit]
    cursor = Cursor(created_at=docs[-1]["createdAt"], id=docs[-1]["id"]).encode() if more and docs else None
    return docs, cursor


def page_of(items: list[M], cursor: str | None) -> Page[M]:
    return Page(items=items, next_cursor=cursor)
