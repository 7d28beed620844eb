"""Shared fixtures: real SQLite and PostgreSQL databases (migrated by Alembic), a real Temporal dev server, and an
HTTP client on the app. On CI (CI=true) a missing service fails the run instead of skipping."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.firestore.store import FirestoreDocumentStore
from adapters.sql.engine import create_engine, session_factory
from adapters.sql.identity.store import SqlDocumentStore
from adapters.sql.read_lane import dispose_engine
from adapters.sql.schema import metadata
from adapters.temporal.client import data_converter
from adapters.temporal.devserver import dynamic_config_args, temporal_cli
from api.container import Container, build
from api.main import create_app
from cli import migrate
from settings import Settings
from tests.support.firestore_emulator import FirestoreEmulator, FirestoreEmulatorError
from tests.support.leaks import find_leaks
from workflows import search_attributes

pytest_plugins = ["tests.support.proxy_fixtures"]

ON_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def unavailable(reason: str) -> None:
    """Skip locally, fail on CI: CI must never pass by skipping what it could not reach."""
    if ON_CI:
        pytest.fail(f"required service unavailable on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "environment": "test",
        "login_max_failures_per_account": 5,
        "login_max_failures_per_client": 50,
        "login_cooldown_s": 60,
        "worker_poll_freshness_s": 4.0,
        # The tests' webhook receivers listen on loopback; test_webhook_targets turns the rule back on.
        "webhook_private_targets": True,
    }
    base.update(overrides)
    return Settings(**base)


# --- databases -------------------------------------------------------------------------------------------------


async def _create_pg_database() -> str:
    name = f"souls_test_{uuid.uuid4().hex[:10]}"
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable(f"PostgreSQL at {PG_ADMIN_DSN} ({type(exc).__name__}: {exc})")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "souls.db"
    url = f"sqlite+aiosqlite:///{path}"
    await asyncio.to_thread(migrate, url)
    return url


@pytest.fixture(scope="session")
async def postgres_url() -> AsyncIterator[str]:
    name = await _create_pg_database()
    url = f"postgresql+asyncpg://{PG_ADMIN_DSN.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"
    try:
        await asyncio.to_thread(migrate, url)
        yield url
    finally:
        await _drop_pg_database(name)


@pytest.fixture(scope="session")
async def engines() -> AsyncIterator[dict[str, AsyncEngine]]:
    """One engine per database URL for the whole session."""
    cache: dict[str, AsyncEngine] = {}
    yield cache
    for eng in cache.values():
        await dispose_engine(eng)


async def _clean(eng: AsyncEngine) -> AsyncEngine:
    async with eng.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(delete(table))
    return eng


def _engine_for(engines: dict[str, AsyncEngine], url: str) -> AsyncEngine:
    if url not in engines:
        engines[url] = create_engine(url, pool_size=5)
    return engines[url]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """A migrated database of each backend, created for this test session and removed after it."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def engine(database_url: str, engines: dict[str, AsyncEngine]) -> AsyncEngine:
    # Per test, from the session's engines: a module may override `database_url` (test_lifecycle does), and a
    # session-scoped engine would then stay on the other fixture's database when the next test switches back; the
    # test would clean and read one database while its API wrote another (seen under pytest-xdist's ordering).
    return _engine_for(engines, database_url)


@pytest.fixture
async def clean_db(engine: AsyncEngine) -> AsyncEngine:
    """Every test starts with empty tables."""
    return await _clean(engine)


@pytest.fixture(params=["sqlite", "postgres", "firestore"])
def document_backend(request: pytest.FixtureRequest) -> tuple[str, Any]:
    """Which implementation of the document side, with what it needs (a database URL or a store factory)."""
    if request.param == "firestore":
        return "firestore", request.getfixturevalue("firestore_store_factory")
    return "sql", request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
async def document_store(document_backend: tuple[str, Any], engines: dict[str, AsyncEngine]) -> AsyncIterator[Any]:
    """The document side on each of its three implementations, empty at the start of the test."""
    kind, target = document_backend
    if kind == "firestore":
        store = await target()
        yield store
        await store.close()
        return
    eng = await _clean(_engine_for(engines, target))
    yield SqlDocumentStore(eng)


# --- Firestore emulator ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[FirestoreEmulator]:
    try:
        emulator = FirestoreEmulator().start()
    except FirestoreEmulatorError as exc:
        unavailable(f"Firestore emulator could not start ({exc})")
    yield emulator
    emulator.stop()


@pytest.fixture
def firestore_store_factory(firestore_emulator: FirestoreEmulator) -> Callable[[], Awaitable[FirestoreDocumentStore]]:
    async def make() -> FirestoreDocumentStore:
        await firestore_emulator.reset_async()
        return FirestoreDocumentStore.connect("souls-test", firestore_emulator.host)

    return make


# --- Temporal --------------------------------------------------------------------------------------------------


_TEMPORAL_START_ATTEMPTS = 3


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    # The SDK picks a free port for the server; another socket can take it before the server binds it (see
    # serve_on_free_port), so a failed start is tried again.
    for attempt in range(1, _TEMPORAL_START_ATTEMPTS + 1):
        try:
            env = await WorkflowEnvironment.start_local(
                dev_server_existing_path=temporal_cli(),
                data_converter=data_converter(make_settings()),
                search_attributes=search_attributes.ALL,
                # Short long polls keep a live worker's last poll time fresh within the readiness window of the tests.
                dev_server_extra_args=dynamic_config_args({"matching.longPollExpirationInterval": "1s"}),
            )
            break
        except Exception as exc:
            if attempt == _TEMPORAL_START_ATTEMPTS:
                unavailable(f"Temporal dev server could not start ({type(exc).__name__}: {exc})")
    async with env:
        yield env


@pytest.fixture
def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def task_queue() -> str:
    return f"souls-test-{uuid.uuid4().hex[:8]}"


# --- the API ---------------------------------------------------------------------------------------------------


# Every response the suite receives, and every secret the tests submitted: `pytest_sessionfinish` fails the run if
# a secret ever came back outside the endpoints whose job is to reveal one.
SUBMITTED_SECRETS: set[str] = set()
RESPONSES: list[tuple[str, str]] = []
REVEALING_PATHS = ("/credentials/reveal",)


async def _record_response(response: httpx.Response) -> None:
    await response.aread()
    RESPONSES.append((response.request.url.path, response.text))


@dataclass
class Api:
    http: httpx.AsyncClient
    container: Container

    @staticmethod
    def secret(value: str) -> str:
        """Mark a value as a secret the API must never answer with (outside reveal endpoints)."""
        SUBMITTED_SECRETS.add(value)
        return value

    async def register(
        self, email: str | None = None, org: str = "Acme", password: str = "correct horse battery"
    ) -> dict[str, Any]:
        email = email or f"owner-{uuid.uuid4().hex[:8]}@example.com"
        response = await self.http.post(
            "/auth/register",
            json={"email": email, "password": self.secret(password), "name": "Owner", "organizationName": org},
        )
        assert response.status_code == 201, response.text
        tokens: dict[str, Any] = response.json()
        return {
            **tokens,
            "email": email,
            "password": password,
            "headers": {"Authorization": f"Bearer {tokens['accessToken']}"},
        }


ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def api_factory(
    clean_db: AsyncEngine, database_url: str, temporal_client: Client, task_queue: str
) -> AsyncIterator[ApiFactory]:
    """Builds the app around the test database and Temporal; settings can be overridden per test."""
    opened: list[tuple[httpx.AsyncClient, Any, Container]] = []

    async def make(**overrides: Any) -> Api:
        values: dict[str, Any] = {
            "database_url": database_url,
            "temporal_address": temporal_client.service_client.config.target_host,
            "temporal_task_queue": task_queue,
        }
        settings = make_settings(**{**values, **overrides})
        container = await build(settings)
        container.temporal = temporal_client
        app = create_app(container=container)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            event_hooks={"response": [_record_response]},
        )
        opened.append((http, lifespan, container))
        return Api(http=http, container=container)

    yield make
    for http, lifespan, container in opened:
        await http.aclose()
        await lifespan.__aexit__(None, None, None)
        await container.close()


@pytest.fixture
async def api(api_factory: ApiFactory) -> Api:
    return await api_factory()


def session_maker(engine: AsyncEngine) -> Any:
    return session_factory(engine)


class _LogCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:
            self.lines.append(record.getMessage() if record.args is None else str(record.msg))


LOGS = _LogCollector()
logging.getLogger().addHandler(LOGS)
logging.getLogger().setLevel(logging.INFO)


# With pytest-xdist each test process checks what it saw itself and reports to the controlling process, which fails
# the run: a worker's own exit status would not reach the command's.
_WORKER_CHECKS: list[dict[str, Any]] = []


def _leak_check() -> dict[str, Any]:
    leaks = find_leaks(RESPONSES, LOGS.lines, SUBMITTED_SECRETS, REVEALING_PATHS)
    return {
        "leaks": [list(leak) for leak in leaks],
        "responses": len(RESPONSES),
        "log_lines": len(LOGS.lines),
        "secrets": len(SUBMITTED_SECRETS),
    }


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    check = getattr(node, "workeroutput", {}).get("leak_check")
    if check is not None:
        _WORKER_CHECKS.append(check)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if any response (outside reveal endpoints) or any log line carried a submitted secret."""
    check = _leak_check()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller judges
        workeroutput["leak_check"] = check
        return
    checks = [check, *_WORKER_CHECKS]
    leaks = [leak for c in checks for leak in c["leaks"]]
    if leaks:
        print(f"\nSECRET LEAK: {len(leaks)} response(s)/log line(s) carried a submitted secret: {leaks[:5]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        totals = {key: sum(c[key] for c in checks) for key in ("responses", "log_lines", "secrets")}
        print(
            f"\nno secret leaked: {totals['responses']} responses and {totals['log_lines']} log lines checked against "
            f"{totals['secrets']} submitted secrets ({len(checks)} test process(es))"
        )
