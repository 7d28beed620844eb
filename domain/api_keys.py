"""Organization API keys for automation. The key is shown once; only its digest is stored."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from domain.auth import Role


class ApiKey(BaseModel):
    id: str
    organization_id: str
    name: str
    # The first characters of the key, stored in clear so a key can be found and recognised in a list.
    prefix: str
    key_digest: str
    role: Role
    created_by: str
    created_at: datetime
    last_used_at: datetime | None = None
