"""Repository contracts of the channels side (relational store, inside the unit of work's transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from domain.channels.integrations import Integration
from domain.channels.matrix import Mapping
from domain.identity.platforms import Platform


class IntegrationRepository(Protocol):
    async def add(self, integration: Integration) -> None: ...
    async def get(self, organization_id: str, integration_id: str) -> Integration | None: ...
    async def find(
        self, organization_id: str, *, platform: Platform | None = None, connected_only: bool = False
    ) -> list[Integration]: ...
    async def update(self, integration: Integration) -> None: ...
    async def delete(self, organization_id: str, integration_id: str) -> None: ...


class MappingRepository(Protocol):
    async def add(self, mapping: Mapping) -> None:
        """Raises Conflict (code mapping_exists) when the soul is already mapped to the integration."""
        ...

    async def get(self, organization_id: str, mapping_id: str) -> Mapping | None: ...
    async def get_pair(self, organization_id: str, soul_id: str, integration_id: str) -> Mapping | None: ...
    async def for_souls(self, organization_id: str, soul_ids: list[str]) -> list[Mapping]: ...
    async def for_integration(self, organization_id: str, integration_id: str) -> list[Mapping]: ...
    async def update(self, mapping: Mapping) -> None: ...
    async def delete(self, organization_id: str, mapping_id: str) -> None: ...
    async def demote_primary(self, organization_id: str, soul_id: str, platform: Platform) -> None: ...
    async def has_primary(self, organization_id: str, soul_id: str, platform: Platform) -> bool: ...
    async def set_account(self, organization_id: str, integration_id: str, account_id: str | None) -> int:
        """Fill (or clear) account_id on every mapping of the integration; returns how many changed."""
        ...

    async def forget_account(self, organization_id: str, account_id: str) -> int:
        """Clear account_id on every mapping that names the account (being deleted); returns how many changed."""
        ...


@dataclass(frozen=True)
class NewMapping:
    """A mapping to create, its soul and account checked: the store takes the platform (and, unless told, whether it
    is primary) from the integration and the soul's other mappings at the moment it writes."""

    id: str
    organization_id: str
    soul_id: str
    integration_id: str
    account_id: str | None
    priority: int
    notes: str | None
    created_at: datetime


class MatrixStore(Protocol):
    """The Matrix's hot paths, each one statement or one short transaction of its own (outside any unit of work):
    callers check souls and accounts in the document store before writing, unless the store `holds_souls` and
    checks them itself (add_checked)."""

    holds_souls: bool

    async def integrations(
        self, organization_id: str, *, platform: Platform | None, connected_only: bool
    ) -> list[Integration]:
        """The integrations a matrix shows, without their tokens."""
        ...

    async def mappings(
        self, organization_id: str, soul_ids: Sequence[str], *, platform: Platform | None, connected_only: bool
    ) -> dict[str, str]:
        """The souls' mappings to the integrations shown, as JSON ready to embed: soul id -> the objects of its
        `mappings` array, comma-separated, in the API's order (priority, highest first). Souls without any are
        absent."""
        ...

    async def integration(self, organization_id: str, integration_id: str) -> Integration | None:
        """The integration without its tokens."""
        ...

    async def get(self, organization_id: str, mapping_id: str) -> Mapping | None: ...
    async def add(self, mapping: NewMapping, *, primary: bool | None) -> Mapping | None:
        """None when nothing was added: the pair is mapped already, or the organization has no such integration.
        `primary` None: primary when the soul has none on the platform; True: the other primary is demoted at once."""
        ...

    async def add_checked(self, mapping: NewMapping, *, primary: bool | None) -> Mapping | None:
        """`add` for a store that `holds_souls`, checking the soul in the same statement (it exists in the
        organization and accepts work) and taking the account linked to the channel (`mapping.account_id` unused).
        None when nothing was added: any of add's reasons, or the soul's."""
        ...

    async def update(
        self, organization_id: str, mapping_id: str, changes: dict[str, Any], at: datetime
    ) -> Mapping | None: ...
    async def delete(self, organization_id: str, mapping_id: str) -> bool: ...
    async def delete_pair(self, organization_id: str, soul_id: str, integration_id: str) -> bool: ...
