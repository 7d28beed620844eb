"""Payload codec that encrypts every Temporal payload with AES-256-GCM; the key id travels in the metadata.

Workflows carry ids rather than secrets; this codec keeps even names and content out of the server's history store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from adapters.crypto.fields import DecryptionError, Keyring

ENCODING = b"binary/encrypted"
_KEY_ID = "encryption-key-id"
_AAD = b"souls.temporal.payload.v1"
_IV_BYTES = 12


class EncryptionCodec(PayloadCodec):
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        kid = self._keyring.primary
        cipher = self._keyring.cipher(kid)
        out = []
        for payload in payloads:
            iv = os.urandom(_IV_BYTES)
            sealed = cipher.encrypt(iv, payload.SerializeToString(), _AAD)
            out.append(Payload(metadata={"encoding": ENCODING, _KEY_ID: kid.encode()}, data=iv + sealed))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                out.append(payload)  # written before encryption was on, or by another codec-less client
                continue
            kid = payload.metadata.get(_KEY_ID, b"").decode()
            try:
                plain = self._keyring.cipher(kid).decrypt(payload.data[:_IV_BYTES], payload.data[_IV_BYTES:], _AAD)
            except DecryptionError:
                raise
            except Exception as exc:
                raise DecryptionError(f"payload failed authentication under key {kid!r}") from exc
            out.append(Payload.FromString(plain))
        return out
