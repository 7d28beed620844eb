"""Shared helpers for the sandbox tests: an in-process client, PKCE pairs, redirect parsing."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from sandbox import SandboxConfig, create_app

REDIRECT = "http://127.0.0.1:8000/callback"


def make_client(config: SandboxConfig | None = None, peer: tuple[str, int] = ("127.0.0.1", 50000)) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(config), client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://sandbox")


def with_platform(platform: str, config: SandboxConfig | None = None, **changes: Any) -> SandboxConfig:
    """A config whose `platform` section has `changes` applied (e.g. access_ttl_s=0 for already-expired tokens)."""
    base = config or SandboxConfig()
    section = replace(base.platform(platform), **changes)
    return replace(base, **{platform: section})


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def redirect_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def location_base(response: httpx.Response) -> str:
    parts = urlsplit(response.headers["location"])
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
