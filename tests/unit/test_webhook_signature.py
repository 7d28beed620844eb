"""The webhook signature a receiver checks: HMAC-SHA256 of `<t>.<raw body>` under the webhook's secret."""

from __future__ import annotations

import hashlib
import hmac

from domain.notifications.webhooks import delivery_id, sign, signature_header, verify

SECRET = "whsec_unit-test-secret"
BODY = b'{"id":"evt","type":"post.published","data":{"postId":"p1"}}'


def test_the_signature_is_the_hmac_of_time_dot_body_as_a_receiver_computes_it() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, 1700000000, BODY) == expected
    assert signature_header(SECRET, 1700000000, BODY) == f"t=1700000000,v1={expected}"


def test_a_fresh_signature_verifies_and_any_change_does_not() -> None:
    header = signature_header(SECRET, 1700000000, BODY)
    assert verify(SECRET, header, BODY, now=1700000010)
    assert not verify("whsec_another-secret", header, BODY, now=1700000010)
    assert not verify(SECRET, header, BODY.replace(b"p1", b"p2"), now=1700000010)
    assert not verify(SECRET, header.replace("t=1700000000", "t=1700000001"), BODY, now=1700000010)


def test_an_old_signature_is_refused_as_a_replay() -> None:
    header = signature_header(SECRET, 1700000000, BODY)
    assert not verify(SECRET, header, BODY, now=1700000000 + 301)
    assert not verify(SECRET, "v1=" + sign(SECRET, 1700000000, BODY), BODY, now=1700000000)  # no time: refused


def test_one_event_for_one_webhook_is_always_the_same_delivery() -> None:
    assert delivery_id("event-1", "hook-1") == delivery_id("event-1", "hook-1")
    assert (
        len({delivery_id("event-1", "hook-1"), delivery_id("event-1", "hook-2"), delivery_id("event-2", "hook-1")}) == 3
    )
