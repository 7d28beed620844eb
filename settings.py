"""Typed settings for every process of the stack (API, worker, CLI, stack runner).

Values come from the environment and an optional `.env` file. Development runs work with no configuration at all;
production refuses to start while a secret still has its development default.
"""

from __future__ import annotations

import base64
import logging
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, computed_field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)

# Development defaults: stable so `make run` keeps decrypting its own data across restarts; refused in production.
DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"  # noqa: S105
DEV_ENCRYPTION_KEYS = "dev:" + base64.b64encode(b"dev-only-field-key-change-me-32b").decode()
DEV_CODEC_KEY = "dev:" + base64.b64encode(b"dev-only-codec-key-change-me-32b").decode()

SEARCH_ATTRIBUTES = ("OrganizationId", "SoulId", "AccountId", "IntegrationId", "Platform", "PostState")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"

    data_dir: Path = Path(".data")
    database_url: str = ""
    # Connections kept open per process. Connections beyond it (up to as many again) are closed after use, so a
    # pool smaller than the usual number of concurrent requests reconnects constantly.
    db_pool_size: int = Field(default=32, ge=1, le=500)
    document_store: Literal["sql", "firestore"] = "sql"
    firestore_project: str = "souls-local"
    # host:port of a Firestore emulator; empty means the real Firestore with application default credentials.
    firestore_emulator_host: str = ""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_workers: int = Field(default=1, ge=1, le=64)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    temporal_task_queue: str = "souls"
    # A worker counts as polling while the server saw it poll within this many seconds (the dev server's long polls are
    # shortened by temporal-config so a live worker refreshes this often).
    worker_poll_freshness_s: float = Field(default=45.0, gt=0)

    jwt_secret: str = DEV_JWT_SECRET
    jwt_issuer: str = "souls"
    access_token_ttl_s: int = Field(default=900, ge=60)
    # How long an API process may reuse a resolved principal; revocation elsewhere takes effect within this. 0: off.
    auth_cache_ttl_s: float = Field(default=5.0, ge=0, le=60)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=300)

    # "kid:base64key,kid2:base64key": the first key encrypts, every key decrypts.
    encryption_keys: str = DEV_ENCRYPTION_KEYS
    # Key(s) of the Temporal payload codec, same format.
    payload_codec_keys: str = DEV_CODEC_KEY

    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=20, ge=1)
    login_failure_window_s: int = Field(default=900, ge=1)
    login_cooldown_s: int = Field(default=900, ge=1)

    audit_retention_days: int = Field(default=90, ge=1)

    # The platform sandbox `make run` starts in place of the real social networks (adapters point at it by default).
    sandbox_enabled: bool = True
    sandbox_port: int = Field(default=8765, ge=1, le=65535)

    # Which platform APIs the adapters call: the local sandbox (default) or the real networks, whose OAuth client
    # credentials come as JSON: PLATFORM_CREDENTIALS='{"x": ["client-id", "client-secret"], ...}'.
    platform_api: Literal["sandbox", "real"] = "sandbox"
    platform_credentials: dict[str, tuple[str, str]] = Field(default_factory=dict)
    # Refresh a channel's token this long before it expires.
    token_refresh_margin_s: float = Field(default=600, ge=0)
    # Publishing: when metrics are read after a post goes out (seconds after publishing), how long a publishing
    # activity may go without a heartbeat before Temporal retries it elsewhere (a killed worker), how often the
    # reconciler looks for stuck deliveries, and each platform's activity rate (per second, enforced by the server).
    post_metrics_offsets_s: list[float] = Field(default_factory=lambda: [3600.0, 86400.0, 7 * 86400.0])
    post_heartbeat_timeout_s: float = Field(default=20.0, ge=1)
    post_publish_attempts: int = Field(default=8, ge=1, le=100)
    # Risk limits: how long an account cools down after a platform rate limits it (when the platform names no reset
    # time) or flags it as spam; no posting meanwhile.
    risk_cooldown_rate_limit_s: float = Field(default=900.0, ge=0)
    risk_cooldown_spam_s: float = Field(default=86400.0, ge=0)
    # Prefix of the per-platform activity queues ("platform-x", ...); tests give each run its own.
    platform_queue_prefix: str = ""
    # Warming runs spread a day's actions over the active hours; a test compresses them into this many seconds.
    warming_day_s: float | None = Field(default=None, gt=0)
    reconcile_every_s: float = Field(default=60.0, ge=1)
    # Workflows kept in the worker's memory between their steps. One that was evicted is rebuilt from its history
    # (a new sandbox and a replay) when its timer fires, so posts due together beyond this number wake slowly; each
    # cached workflow costs memory (about 0.2 MiB).
    workflow_cache_size: int = Field(default=1000, ge=0)
    # How long a workflow's next step waits on this worker's sticky queue (where its cached state lives) before the
    # server hands it to any worker, which must rebuild it from history. The SDK's 10 s ran out while a burst of due
    # posts drained: measured with 1,000 deliveries due at once, every PostWorkflow timed out once there and replayed
    # its whole history, doubling the server's CPU per delivery (30 s: none did, throughput 41 -> 50 deliveries/s).
    # The price is paid after a crash: a step already handed to a killed worker waits out this timeout before another
    # worker takes it (the crash test's recovery went from about 20 s to 39 s); later steps go elsewhere once the
    # server sees no poller on the sticky queue for 10 s. A rare delay of seconds, against a replay per burst.
    workflow_sticky_timeout_s: float = Field(default=30.0, gt=0)
    # Platform calls (publishes, metrics, warming actions) one worker process runs at once on each platform's queue.
    # The SDK's default, 100 per queue, let a burst of due posts interleave hundreds of calls on one event loop:
    # measured with 1,000 posts due at once, a claimed publish took 3-5 s to finish instead of 0.5 s, for the same
    # throughput. The platforms' own rates (platform_rate_per_s) are far below what 16 slots serve.
    platform_activity_concurrency: int = Field(default=16, ge=1, le=1000)
    platform_rate_per_s: dict[str, float] = Field(
        default_factory=lambda: {
            "x": 1.0,
            "linkedin": 1.0,
            "facebook": 2.0,
            "instagram": 0.5,
            "tiktok": 0.1,
            "threads": 1.0,
            "bluesky": 2.0,
            "mastodon": 1.0,
        }
    )
    # Where the platforms send the user back after approving (the web frontend's callback page).
    frontend_url: str = "http://localhost:3000"

    # The proxy test fetches this URL through the proxy; it should answer the caller's IP ({"ip": ...} or text).
    proxy_check_url: str = "https://api.ipify.org?format=json"
    proxy_check_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Proxy health (the `proxy-health` Schedule and the manual test share these rules): how often every proxy is tested,
    # how many tests at once, how many failed tests in a row make a proxy `failed` (its accounts flagged, publishing
    # through it refused; one failure is `degraded`), and above which latency a working proxy is `degraded`.
    proxy_health_every_s: float = Field(default=300.0, ge=5)
    proxy_health_concurrency: int = Field(default=10, ge=1, le=200)
    proxy_failures_to_fail: int = Field(default=2, ge=1, le=50)
    proxy_degraded_latency_ms: int = Field(default=3000, ge=1)
    invitation_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)

    # Where links in notifications point (the public address of the web app or the API); empty: the API's own URL.
    public_base_url: str = ""
    # Outgoing webhooks: each POST's timeout, the retry backoff (doubling from the initial delay up to the maximum),
    # and when a delivery is given up (whichever comes first: attempts or time); how often lost sendings are swept.
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_retry_initial_s: float = Field(default=10.0, gt=0)
    webhook_retry_max_interval_s: float = Field(default=3600.0, gt=0)
    webhook_max_attempts: int = Field(default=20, ge=1, le=100)
    webhook_give_up_after_s: float = Field(default=24 * 3600.0, gt=0)
    webhook_sweep_every_s: float = Field(default=60.0, ge=1)
    # Whether webhooks may reach loopback, private and link-local addresses (domain.notifications.targets): off, so
    # an organization's URL cannot reach inside the deployment; on for receivers on a private network, and locally.
    webhook_private_targets: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'souls.db').as_posix()}"

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        problems = []
        if not self.jwt_secret or self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
            problems.append("JWT_SECRET must be set to a random value of at least 32 characters")
        if not self.encryption_keys or DEV_ENCRYPTION_KEYS.split(":", 1)[1] in self.encryption_keys:
            problems.append("ENCRYPTION_KEYS must be set and must not contain the development key")
        if not self.payload_codec_keys or DEV_CODEC_KEY.split(":", 1)[1] in self.payload_codec_keys:
            problems.append("PAYLOAD_CODEC_KEYS must be set and must not contain the development key")
        if problems:
            raise ValueError("refusing to start in production: " + "; ".join(problems))
        return self

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def public_url(self) -> str:
        """The base of links sent out of the product (webhook payloads)."""
        return self.public_base_url.rstrip("/") or self.api_url

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}"

    @property
    def temporal_ui_url(self) -> str:
        host = self.temporal_address.rsplit(":", 1)[0]
        return f"http://{host}:{self.temporal_ui_port}"


def get_settings() -> Settings:
    return Settings()
