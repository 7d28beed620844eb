from __future__ import annotations

import pytest
from temporalio.api.common.v1 import Payload

from adapters.crypto.fields import DecryptionError, Keyring, generate_key_spec
from adapters.temporal.codec import ENCODING, EncryptionCodec

K1 = generate_key_spec("c1")
K2 = generate_key_spec("c2")


async def test_payloads_are_encrypted_and_decrypted_back() -> None:
    codec = EncryptionCodec(Keyring.parse(K1))
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'{"name":"Acme soul"}')
    [encoded] = await codec.encode([original])
    assert encoded.metadata["encoding"] == ENCODING
    assert encoded.metadata["encryption-key-id"] == b"c1"
    assert b"Acme" not in encoded.data
    assert await codec.decode([encoded]) == [original]


async def test_older_key_still_decodes_after_rotation() -> None:
    [encoded] = await EncryptionCodec(Keyring.parse(K1)).encode([Payload(data=b"x")])
    assert (await EncryptionCodec(Keyring.parse(f"{K2},{K1}")).decode([encoded]))[0].data == b"x"


async def test_tampered_payload_fails() -> None:
    [encoded] = await EncryptionCodec(Keyring.parse(K1)).encode([Payload(data=b"x")])
    encoded.data = encoded.data[:-1] + bytes([encoded.data[-1] ^ 1])
    with pytest.raises(DecryptionError):
        await EncryptionCodec(Keyring.parse(K1)).decode([encoded])


async def test_unencrypted_payloads_pass_through_decode() -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    assert await EncryptionCodec(Keyring.parse(K1)).decode([plain]) == [plain]
