from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from adapters.crypto.fields import generate_key_spec
from settings import Settings

GOOD = {
    "environment": "production",
    "jwt_secret": "x" * 48,
    "encryption_keys": generate_key_spec("prod1"),
    "payload_codec_keys": generate_key_spec("codec1"),
}


def test_development_runs_with_no_configuration() -> None:
    settings = Settings(_env_file=None)
    assert settings.api_port == 8000
    assert settings.temporal_address == "localhost:7233"
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")


def test_database_lives_in_the_data_dir_by_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path.as_posix()}/souls.db"


def test_environment_variables_configure_ports_and_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_PORT", "9100")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@db/souls")
    settings = Settings()
    assert (settings.api_port, settings.temporal_address) == (9100, "temporal:7233")
    assert settings.effective_database_url == "postgresql+asyncpg://u@db/souls"


def test_production_accepts_real_secrets() -> None:
    assert Settings(**GOOD).environment == "production"  # type: ignore[arg-type]


@pytest.mark.parametrize("missing", ["jwt_secret", "encryption_keys", "payload_codec_keys"])
def test_production_refuses_default_secrets(missing: str) -> None:
    values = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ValidationError, match="refusing to start in production"):
        Settings(**values)  # type: ignore[arg-type]


def test_production_refuses_a_short_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(**{**GOOD, "jwt_secret": "short"})  # type: ignore[arg-type]
