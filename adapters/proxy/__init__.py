"""Outbound traffic to social platforms: clients pinned to an account's proxy, and proxy health checks."""

from adapters.proxy.check import ProxyCheckResult, check_proxy
from adapters.proxy.transport import ProxyEndpoint, ProxyProtocol, build_client

__all__ = ["ProxyCheckResult", "ProxyEndpoint", "ProxyProtocol", "build_client", "check_proxy"]
