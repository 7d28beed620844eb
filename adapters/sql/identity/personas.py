"""Personas in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from adapters.sql.identity.common import PERSONA, SOUL, SqlStore, exists, keyset_page, replace_row
from domain.errors import NotFound
from domain.identity.personas import Persona
from domain.identity.ports import InUse
from domain.pagination import Page, PageRequest

_PROFILE_FIELDS = (
    "demographics", "personality", "backstory", "primary_location", "language_preferences",
    "activity_schedule", "content_themes", "engagement_style",
)  # fmt: skip


def _persona_row(p: Persona) -> dict[str, Any]:
    data = p.model_dump(mode="json", include=set(_PROFILE_FIELDS))
    return {
        "id": p.id, "organization_id": p.organization_id, "name": p.name, "tone": p.tone, "style": p.style,
        "system_prompt": p.system_prompt, "timezone": p.timezone, "profile": data,
        "created_at": p.created_at, "updated_at": p.updated_at,
    }  # fmt: skip


def _persona(row: Row[Any]) -> Persona:
    m = row._mapping
    return Persona(
        id=m["id"], organization_id=m["organization_id"], name=m["name"], tone=m["tone"], style=m["style"],
        system_prompt=m["system_prompt"], timezone=m["timezone"], created_at=m["created_at"],
        updated_at=m["updated_at"], **m["profile"],
    )  # fmt: skip


class SqlPersonaRepository(SqlStore):
    async def add(self, persona: Persona) -> None:
        async with self.write() as conn:
            await conn.execute(insert(PERSONA).values(_persona_row(persona)))

    async def get(self, organization_id: str, persona_id: str) -> Persona | None:
        async with self.reader.connect() as conn:
            stmt = select(PERSONA).where(PERSONA.c.id == persona_id, PERSONA.c.organization_id == organization_id)
            row = (await conn.execute(stmt)).first()
        return _persona(row) if row else None

    async def find(self, organization_id: str, page: PageRequest) -> Page[Persona]:
        async with self.reader.connect() as conn:
            rows, cursor = await keyset_page(
                conn, select(PERSONA).where(PERSONA.c.organization_id == organization_id), PERSONA, page
            )
        return Page(items=[_persona(r) for r in rows], next_cursor=cursor)

    async def update(self, persona: Persona, *, expected_updated_at: datetime | None = None) -> Persona:
        async with self.write() as conn:
            values = _persona_row(persona)
            del values["created_at"]
            key = (persona.organization_id, persona.id)
            await replace_row(conn, PERSONA, "Persona", key, values, expected_updated_at)
        return persona

    async def delete(self, organization_id: str, persona_id: str, *, unassign: bool) -> list[str]:
        async with self.write() as conn:
            if not await exists(conn, PERSONA, organization_id, persona_id):
                raise NotFound("Persona", persona_id)
            users = list((await conn.execute(
                select(SOUL.c.id).where(SOUL.c.persona_id == persona_id).order_by(SOUL.c.created_at, SOUL.c.id)
            )).scalars())  # fmt: skip
            if users and not unassign:
                raise InUse(
                    f"The persona is used by {len(users)} soul(s); unassign it first or pass unassign=true.",
                    code="persona_in_use",
                    soulIds=users,
                )
            if users:
                await conn.execute(update(SOUL).where(SOUL.c.persona_id == persona_id).values(persona_id=None))
            await conn.execute(delete(PERSONA).where(PERSONA.c.id == persona_id))
        return users
