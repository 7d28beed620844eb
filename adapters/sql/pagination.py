"""Keyset pagination over (created_at, id), ascending or newest first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from domain.pagination import Cursor, Page, PageRequest

T = TypeVar("T")


async def keyset_page(
    session: AsyncSession,
    stmt: Select[Any],
    *,
    created_col: Any,
    id_col: Any,
    page: PageRequest,
    to_entity: Callable[[Any], T],
    newest_first: bool = False,
) -> Page[T]:
    if page.after is not None:
        created, ident = page.after.created_at, page.after.id
        if newest_first:
            stmt = stmt.where(or_(created_col < created, and_(created_col == created, id_col < ident)))
        else:
            stmt = stmt.where(or_(created_col > created, and_(created_col == created, id_col > ident)))
    order = (created_col.desc(), id_col.desc()) if newest_first else (created_col.asc(), id_col.asc())
    rows = list((await session.execute(stmt.order_by(*order).limit(page.limit + 1))).scalars())
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = Cursor(created_at=rows[-1].created_at, id=rows[-1].id).encode() if more and rows else None
    return Page(items=[to_entity(r) for r in rows], next_cursor=next_cursor)
