"""AES-256-GCM encryption of individual fields, stored as `{alg, kid, iv, data, tag}`.

The associated data binds each ciphertext to the record and field it belongs to, so a value copied into another
record or another field fails to decrypt instead of silently revealing a secret in the wrong place.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ALGORITHM = "A256GCM"
_IV_BYTES = 12
_TAG_BYTES = 16
_AAD_VERSION = "souls.field.v1"


class KeyringError(ValueError):
    """The configured keyring is malformed (the message never contains key material)."""


class DecryptionError(Exception):
    """A stored value could not be decrypted: wrong record or field, unknown key, or tampering."""


@dataclass(frozen=True, slots=True)
class EncryptedValue:
    kid: str
    iv: bytes
    data: bytes
    tag: bytes
    alg: str = ALGORITHM

    def to_dict(self) -> dict[str, str]:
        return {
            "alg": self.alg,
            "kid": self.kid,
            "iv": _b64(self.iv),
            "data": _b64(self.data),
            "tag": _b64(self.tag),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> EncryptedValue:
        try:
            value = cls(
                alg=str(raw["alg"]),
                kid=str(raw["kid"]),
                iv=_unb64(raw["iv"]),
                data=_unb64(raw["data"]),
                tag=_unb64(raw["tag"]),
            )
        except (KeyError, TypeError, binascii.Error) as exc:
            raise DecryptionError("stored value is not an encrypted field") from exc
        if value.alg != ALGORITHM or len(value.iv) != _IV_BYTES or len(value.tag) != _TAG_BYTES:
            raise DecryptionError("stored value has an unsupported algorithm or shape")
        return value


class Keyring:
    """Named 256-bit keys; the first one encrypts, all of them decrypt."""

    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        if not keys:
            raise KeyringError("the keyring holds no key")
        if primary not in keys:
            raise KeyringError(f"primary key id {primary!r} is not in the keyring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise KeyringError(f"key {kid!r} must be 32 bytes (AES-256), got {len(key)}")
        self._ciphers = {kid: AESGCM(key) for kid, key in keys.items()}
        self.primary = primary

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Parse `kid:base64key[,kid2:base64key...]`."""
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in spec.split(",")):
            if not part:
                continue
            kid, sep, encoded = part.partition(":")
            if not sep or not kid:
                raise KeyringError("each key must be written as kid:base64key")
            if kid in keys:
                raise KeyringError(f"key id {kid!r} appears twice")
            try:
                keys[kid] = base64.b64decode(encoded, validate=True)
            except binascii.Error as exc:
                raise KeyringError(f"key {kid!r} is not valid base64") from exc
            order.append(kid)
        if not order:
            raise KeyringError("the keyring holds no key")
        return cls(keys, order[0])

    @property
    def kids(self) -> list[str]:
        return list(self._ciphers)

    def cipher(self, kid: str) -> AESGCM:
        try:
            return self._ciphers[kid]
        except KeyError:
            raise DecryptionError(f"no key with id {kid!r} in the keyring") from None


def associated_data(record: str, field: str) -> bytes:
    return f"{_AAD_VERSION}|{record}|{field}".encode()


class FieldCipher:
    """Encrypts and decrypts field values for a given record (`collection/id`) and field name."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    def encrypt(self, plaintext: str | bytes, *, record: str, field: str) -> dict[str, str]:
        raw = plaintext.encode() if isinstance(plaintext, str) else plaintext
        iv = os.urandom(_IV_BYTES)
        kid = self.keyring.primary
        sealed = self.keyring.cipher(kid).encrypt(iv, raw, associated_data(record, field))
        return EncryptedValue(kid=kid, iv=iv, data=sealed[:-_TAG_BYTES], tag=sealed[-_TAG_BYTES:]).to_dict()

    def decrypt(self, stored: Mapping[str, Any], *, record: str, field: str) -> bytes:
        value = EncryptedValue.from_dict(stored)
        try:
            return self.keyring.cipher(value.kid).decrypt(
                value.iv, value.data + value.tag, associated_data(record, field)
            )
        except InvalidTag:
            raise DecryptionError(
                f"field {field!r} of {record!r} failed authentication (tampered, or not encrypted for this record)"
            ) from None

    def decrypt_str(self, stored: Mapping[str, Any], *, record: str, field: str) -> str:
        return self.decrypt(stored, record=record, field=field).decode()

    def needs_rotation(self, stored: Mapping[str, Any]) -> bool:
        return EncryptedValue.from_dict(stored).kid != self.keyring.primary

    def reencrypt(self, stored: Mapping[str, Any], *, record: str, field: str) -> dict[str, str]:
        return self.encrypt(self.decrypt(stored, record=record, field=field), record=record, field=field)


def generate_key_spec(kid: str) -> str:
    """A fresh `kid:base64key` entry for a keyring setting."""
    return f"{kid}:{_b64(AESGCM.generate_key(bit_length=256))}"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected base64 text")
    return base64.b64decode(text, validate=True)
