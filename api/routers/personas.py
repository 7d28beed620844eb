"""Personas (`/axon/personas`): the voice and profile a Soul speaks with."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import Field, StringConstraints

from api.deps import ClientIp, ContainerDep, CurrentPrincipal, PageDep
from api.direct import DirectRoute
from api.schemas import ApiInput, ApiModel, JsonObject, PageOut, changes_of
from domain.identity.personas import Persona

router = APIRouter(route_class=DirectRoute, prefix="/axon/personas", tags=["personas"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Short = Annotated[str, Field(max_length=500)]
Long = Annotated[str, Field(max_length=20_000)]
Profile = Annotated[JsonObject, Field(max_length=100)]
Language = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
Themes = Annotated[list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]],
                   Field(max_length=100)]  # fmt: skip
PersonaId = Annotated[str, Path(max_length=64)]


class PersonaFields(ApiInput):
    not_null = ("name", "timezone", "demographics", "personality", "language_preferences", "activity_schedule",
                "content_themes", "engagement_style")  # fmt: skip

    tone: Short | None = None
    style: Short | None = None
    system_prompt: Long | None = None
    demographics: Profile | None = None
    personality: Profile | None = None
    backstory: Long | None = None
    primary_location: Annotated[str | None, Field(max_length=200)] = None
    timezone: Annotated[str | None, Field(max_length=64, description="IANA name, e.g. Asia/Manila")] = None
    language_preferences: Annotated[list[Language] | None, Field(max_length=20)] = None
    activity_schedule: Profile | None = None
    content_themes: Themes | None = None
    engagement_style: Profile | None = None


class PersonaIn(PersonaFields):
    name: Name


class PersonaPatch(PersonaFields):
    name: Name | None = None


class PersonaOut(ApiModel):
    id: str
    name: str
    tone: str | None
    style: str | None
    system_prompt: str | None
    demographics: dict[str, Any]
    personality: dict[str, Any]
    backstory: str | None
    primary_location: str | None
    timezone: str
    language_preferences: list[str]
    activity_schedule: dict[str, Any]
    content_themes: list[str]
    engagement_style: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, persona: Persona) -> PersonaOut:
        return cls.model_validate(persona.model_dump())


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PersonaOut)
async def create_persona(body: PersonaIn, principal: CurrentPrincipal, container: ContainerDep) -> PersonaOut:
    values = changes_of(body)
    return PersonaOut.of(await container.personas.create(principal, values))


@router.get("", response_model=PageOut[PersonaOut])
async def list_personas(principal: CurrentPrincipal, container: ContainerDep, page: PageDep) -> PageOut[PersonaOut]:
    result = await container.personas.find(principal, page)
    return PageOut(items=[PersonaOut.of(p) for p in result.items], next_cursor=result.next_cursor)


@router.get("/{persona_id}", response_model=PersonaOut)
async def get_persona(persona_id: PersonaId, principal: CurrentPrincipal, container: ContainerDep) -> PersonaOut:
    return PersonaOut.of(await container.personas.get(principal, persona_id))


@router.put("/{persona_id}", response_model=PersonaOut)
@router.patch("/{persona_id}", response_model=PersonaOut)
async def update_persona(
    persona_id: PersonaId, body: PersonaPatch, principal: CurrentPrincipal, container: ContainerDep
) -> PersonaOut:
    """Changes the fields sent; others stay."""
    changes = changes_of(body)
    return PersonaOut.of(await container.personas.update(principal, persona_id, changes))


@router.delete("/{persona_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_persona(
    persona_id: PersonaId,
    principal: CurrentPrincipal,
    container: ContainerDep,
    ip: ClientIp,
    unassign: Annotated[bool, Query(description="Clear it from the souls that use it")] = False,
) -> None:
    await container.personas.delete(principal, persona_id, unassign=unassign, ip=ip)
