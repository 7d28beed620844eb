"""Which platform base URLs (Mastodon instances, Bluesky PDSes) the server agrees to call, and how it writes them."""

from __future__ import annotations

import pytest

from domain.channels.apps import normalize_base
from domain.errors import InvalidInput

SANDBOX = "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Mastodon.Social/", "https://mastodon.social"),
        ("  https://mastodon.social:443  ", "https://mastodon.social"),
        ("https://pds.example.com:8443", "https://pds.example.com:8443"),
        (f"{SANDBOX}/mastodon/", f"{SANDBOX}/mastodon"),
        ("http://localhost:8765/bluesky", "http://localhost:8765/bluesky"),  # the sandbox, written another way
    ],
)
def test_accepted_urls_are_written_one_way(raw: str, expected: str) -> None:
    assert normalize_base(raw, field="instance", dev_base=SANDBOX, what="instance URL") == expected


@pytest.mark.parametrize(
    "raw",
    [
        "http://mastodon.social",  # plain http outside the sandbox
        "http://127.0.0.1:8766/mastodon",  # another local port is not the sandbox
        "https://mastodon.social/@alice",
        "https://mastodon.social/?a=1",
        "https://mastodon.social/#x",
        "https://alice:pw@mastodon.social",
        "https://localhost",
        "https://app.localhost",
        "https://169.254.169.254",
        "https://[::1]",
        "https://[fd00::1]",
        "https://mastodon.social:99999",
        "ftp://mastodon.social",
        "mastodon.social",
        "",
        "https://" + "a" * 2050 + ".example",
    ],
)
def test_unsafe_or_malformed_urls_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        normalize_base(raw, field="instance", dev_base=SANDBOX, what="instance URL")
    assert refused.value.code == "invalid_instance_url"
    assert refused.value.field == "instance"


def test_without_a_sandbox_only_public_https_hosts_pass() -> None:
    with pytest.raises(InvalidInput):
        normalize_base(f"{SANDBOX}/mastodon", field="instance", dev_base=None, what="instance URL")
    assert normalize_base("https://8.8.8.8", field="instance", dev_base=None, what="x") == "https://8.8.8.8"
