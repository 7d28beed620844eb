"""Composition root of the API process: builds the stores, services and the Temporal client once per process."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from adapters.crypto.fields import FieldCipher, Keyring
from adapters.crypto.passwords import Argon2PasswordHasher
from adapters.crypto.tokens import JwtTokenIssuer
from adapters.documents import build_document_store
from adapters.platforms.registry import platform_connectors
from adapters.proxy.checker import proxy_health
from adapters.sql.engine import create_engine
from adapters.sql.matrix import SqlMatrixStore
from adapters.sql.read_lane import dispose_engine
from adapters.sql.uow import SqlUnitOfWorkFactory
from adapters.temporal.client import connect
from adapters.temporal.lifecycle import TemporalLifecycleWorkflows
from adapters.temporal.posts import post_workflows
from adapters.temporal.starter import TemporalChannelWorkflows
from adapters.temporal.warming import TemporalWarmingSchedules
from adapters.temporal.webhooks import TemporalWebhookSender
from domain.cache import TtlCache
from domain.clock import Clock, SystemClock
from domain.identity.accounts import Account
from domain.identity.ports import DocumentStore
from domain.identity.risk import loosened
from domain.services.api_keys import ApiKeyService
from domain.services.auth import AuthService, LoginPolicy
from domain.services.identity.accounts import AccountService
from domain.services.identity.proxies import ProxyService
from domain.services.identity.souls import IdentityContext, PersonaService, SoulService
from domain.services.identity.warming import WarmingService
from domain.services.integrations import IntegrationService
from domain.services.lifecycle import LifecycleService
from domain.services.matrix import MatrixService
from domain.services.organization import OrganizationService
from domain.services.posts import PostService
from domain.services.principals import CachedPrincipal, PrincipalResolver
from domain.services.users import UserService
from domain.services.webhooks import WebhookNotifier, WebhookService
from settings import Settings


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    uow: SqlUnitOfWorkFactory
    clock: Clock
    tokens: JwtTokenIssuer
    cipher: FieldCipher
    auth: AuthService
    users: UserService
    api_keys: ApiKeyService
    principals: PrincipalResolver
    documents: DocumentStore
    souls: SoulService
    personas: PersonaService
    accounts: AccountService
    proxies: ProxyService
    matrix: MatrixService
    integrations: IntegrationService
    posts: PostService
    organization: OrganizationService
    lifecycle: LifecycleService
    temporal: Client
    webhooks: WebhookService
    warming: WarmingService

    async def close(self) -> None:
        await self.documents.close()
        await dispose_engine(self.engine)


async def build(settings: Settings) -> Container:
    engine = create_engine(settings.effective_database_url, pool_size=settings.db_pool_size)
    clock = SystemClock()
    hasher = Argon2PasswordHasher()
    tokens = JwtTokenIssuer(settings.jwt_secret, settings.jwt_issuer, settings.access_token_ttl_s)
    policy = LoginPolicy(
        max_failures_per_account=settings.login_max_failures_per_account,
        max_failures_per_client=settings.login_max_failures_per_client,
        window_s=settings.login_failure_window_s,
        cooldown_s=settings.login_cooldown_s,
    )
    # Services that end someone's access clear the cache of resolved principals.
    principal_cache: TtlCache[str, CachedPrincipal] = TtlCache(settings.auth_cache_ttl_s)
    api_key_service = ApiKeyService(clock=clock, on_access_changed=principal_cache.clear)
    uows = SqlUnitOfWorkFactory.for_engine(engine)
    principals = PrincipalResolver(
        uows=uows, tokens=tokens, api_keys=api_key_service, clock=clock, cache=principal_cache
    )
    # Lazy: the API starts (and reports itself unready) while Temporal is still coming up.
    temporal = await connect(settings, lazy=True, identity="souls-api")
    cipher = FieldCipher(Keyring.parse(settings.encryption_keys))
    documents = await build_document_store(settings, engine)
    identity = IdentityContext(store=documents, uows=uows, clock=clock)
    # Account status changes and proxy failures start, pause and remove the accounts' warming schedules.
    warming = WarmingService(
        identity, TemporalWarmingSchedules(temporal, settings.temporal_task_queue, settings.platform_queue_prefix)
    )
    posts = PostService(identity, post_workflows(temporal, settings))

    async def account_changed(before: Account | None, after: Account) -> None:
        # The warming schedule follows the status; looser risk limits wake the deliveries waiting for them.
        await warming.account_changed(before, after)
        if before is not None and loosened(before, after):
            await posts.limits_loosened(after)

    return Container(
        settings=settings,
        engine=engine,
        uow=uows,
        clock=clock,
        tokens=tokens,
        cipher=cipher,
        auth=AuthService(
            hasher=hasher,
            tokens=tokens,
            clock=clock,
            login_policy=policy,
            refresh_ttl_s=settings.refresh_token_ttl_s,
            on_access_changed=principal_cache.clear,
        ),
        users=UserService(
            hasher=hasher,
            clock=clock,
            invitation_ttl_s=settings.invitation_ttl_s,
            on_access_changed=principal_cache.clear,
        ),
        api_keys=api_key_service,
        principals=principals,
        documents=documents,
        souls=SoulService(identity),
        personas=PersonaService(identity),
        accounts=AccountService(identity, cipher, on_change=account_changed),
        proxies=ProxyService(
            identity, cipher, proxy_health(settings, identity, cipher, on_change=warming.proxy_changed)
        ),
        matrix=MatrixService(identity, SqlMatrixStore(engine, holds_souls=settings.document_store == "sql")),
        integrations=IntegrationService(
            identity,
            cipher,
            platform_connectors(settings),
            settings.frontend_url,
            TemporalChannelWorkflows(temporal, settings.temporal_task_queue, settings.token_refresh_margin_s),
            dev_base=settings.sandbox_url if settings.platform_api == "sandbox" else None,
        ),
        posts=posts,
        organization=OrganizationService(uows, clock),
        lifecycle=LifecycleService(
            identity,
            TemporalLifecycleWorkflows(temporal, settings.temporal_task_queue),
            on_access_changed=principal_cache.clear,
        ),
        temporal=temporal,
        webhooks=WebhookService(
            uows,
            cipher,
            clock,
            WebhookNotifier(uows, TemporalWebhookSender(temporal, settings), clock, settings.public_url),
            private_targets=settings.webhook_private_targets,
        ),
        warming=warming,
    )
