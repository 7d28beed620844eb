"""Which webhook hosts and addresses are refused (domain.notifications.targets)."""

from __future__ import annotations

import pytest

from domain.notifications.targets import non_public, refused_host


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # the cloud metadata service
        "100.64.0.1",  # shared address space (carrier NAT)
        "0.0.0.0",  # noqa: S104 - an address to refuse, not one to bind
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses(address: str) -> None:
    assert non_public(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses(address: str) -> None:
    assert not non_public(address)


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("api.localhost", True),
        ("127.0.0.1", True),
        ("[::1]", True),
        ("169.254.169.254", True),
        ("hooks.example.com", False),  # a name: checked against what it resolves to, when sent
        ("localhost.example.com", False),
        ("8.8.8.8", False),
    ],
)
def test_hosts_refused_as_written(host: str, refused: bool) -> None:
    assert (refused_host(host) is not None) is refused
