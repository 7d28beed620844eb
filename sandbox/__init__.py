"""Platform sandbox: a local imitation of the eight social platforms' HTTP APIs (see /work/shared/PLATFORMS.md)."""

from __future__ import annotations

from sandbox.app import create_app
from sandbox.config import PlatformConfig, SandboxConfig, TestPage, TestUser

__all__ = ["PlatformConfig", "SandboxConfig", "TestPage", "TestUser", "create_app"]
