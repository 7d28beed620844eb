"""Fixtures of the end-to-end tests: the environment of a stack of the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.stack_support import stack_env_for


@pytest.fixture
def stack_env(tmp_path: Path) -> dict[str, str]:
    return stack_env_for(tmp_path / "data")
