"""Turning a bearer token into the Principal of a request, with the user's current role and session state."""

from __future__ import annotations

from domain.auth import ActorType, Principal
from domain.clock import Clock
from domain.errors import Unauthorized
from domain.ports import UnitOfWork
from domain.tokens import TokenIssuer


async def principal_from_bearer(uow: UnitOfWork, tokens: TokenIssuer, clock: Clock, token: str) -> Principal:
    claims = tokens.verify_access(token)
    user = await uow.users.get(claims.organization_id, claims.user_id)
    if user is None or not user.is_active:
        raise Unauthorized("The access token is no longer valid.", code="token_invalid")
    # Logging out (or a detected refresh-token reuse) revokes the session: its access tokens stop working too.
    if not await uow.refresh_tokens.is_family_active(claims.session_id, clock.now()):
        raise Unauthorized("The session has ended.", code="session_revoked")
    return Principal(
        actor_type=ActorType.USER,
        actor_id=user.id,
        organization_id=user.organization_id,
        role=user.role,  # the current role, not the one at sign-in
        session_id=claims.session_id,
    )
