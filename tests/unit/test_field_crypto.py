from __future__ import annotations

import base64

import pytest

from adapters.crypto.fields import DecryptionError, FieldCipher, Keyring, KeyringError, generate_key_spec

K1 = generate_key_spec("k1")
K2 = generate_key_spec("k2")


def cipher(spec: str = K1) -> FieldCipher:
    return FieldCipher(Keyring.parse(spec))


def test_encrypted_field_has_the_documented_shape_and_no_plaintext() -> None:
    stored = cipher().encrypt("hunter2-password", record="accounts/a1", field="password")
    assert set(stored) == {"alg", "kid", "iv", "data", "tag"}
    assert stored["alg"] == "A256GCM"
    assert stored["kid"] == "k1"
    assert len(base64.b64decode(stored["iv"])) == 12
    assert len(base64.b64decode(stored["tag"])) == 16
    assert "hunter2" not in str(stored)


def test_round_trip() -> None:
    c = cipher()
    stored = c.encrypt("s3cret", record="accounts/a1", field="password")
    assert c.decrypt_str(stored, record="accounts/a1", field="password") == "s3cret"


def test_same_plaintext_encrypts_differently_each_time() -> None:
    c = cipher()
    a = c.encrypt("same", record="r/1", field="f")
    b = c.encrypt("same", record="r/1", field="f")
    assert a["iv"] != b["iv"]
    assert a["data"] != b["data"]


def test_ciphertext_copied_to_another_record_fails() -> None:
    c = cipher()
    stored = c.encrypt("s3cret", record="accounts/a1", field="password")
    with pytest.raises(DecryptionError):
        c.decrypt(stored, record="accounts/a2", field="password")


def test_ciphertext_copied_to_another_field_fails() -> None:
    c = cipher()
    stored = c.encrypt("s3cret", record="accounts/a1", field="password")
    with pytest.raises(DecryptionError):
        c.decrypt(stored, record="accounts/a1", field="accessToken")


@pytest.mark.parametrize("part", ["data", "tag", "iv"])
def test_tampering_fails_loudly(part: str) -> None:
    c = cipher()
    stored = c.encrypt("s3cret value", record="r/1", field="f")
    raw = bytearray(base64.b64decode(stored[part]))
    raw[0] ^= 0x01
    tampered = {**stored, part: base64.b64encode(bytes(raw)).decode()}
    with pytest.raises(DecryptionError):
        c.decrypt(tampered, record="r/1", field="f")


def test_malformed_stored_value_fails_loudly() -> None:
    with pytest.raises(DecryptionError):
        cipher().decrypt({"alg": "A256GCM", "kid": "k1"}, record="r/1", field="f")
    with pytest.raises(DecryptionError):
        cipher().decrypt({"alg": "none", "kid": "k1", "iv": "", "data": "", "tag": ""}, record="r/1", field="f")


def test_first_key_encrypts_and_every_key_decrypts() -> None:
    old = cipher(K1).encrypt("v", record="r/1", field="f")
    rotated = cipher(f"{K2},{K1}")
    assert rotated.decrypt_str(old, record="r/1", field="f") == "v"
    assert rotated.needs_rotation(old)
    fresh = rotated.reencrypt(old, record="r/1", field="f")
    assert fresh["kid"] == "k2"
    assert not rotated.needs_rotation(fresh)
    assert cipher(K2).decrypt_str(fresh, record="r/1", field="f") == "v"


def test_a_value_under_a_removed_key_fails() -> None:
    old = cipher(K1).encrypt("v", record="r/1", field="f")
    with pytest.raises(DecryptionError, match="no key"):
        cipher(K2).decrypt(old, record="r/1", field="f")


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:not base64!", "k1:" + base64.b64encode(b"short").decode(), f"{K1},{K1}"],
    # Ids that do not show the key: the same in every test process (pytest-xdist collects in each).
    ids=["empty", "no-key", "not-base64", "short-key", "duplicate-id"],
)
def test_malformed_keyrings_are_rejected_without_echoing_keys(spec: str) -> None:
    with pytest.raises(KeyringError) as info:
        Keyring.parse(spec)
    secret = spec.partition(":")[2]
    assert not secret or secret not in str(info.value)
