"""Sealing an account's credentials field by field, and what responses may say about them."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from domain.errors import InvalidInput
from domain.identity.accounts import CREDENTIAL_FIELDS, Account, credential_field, credentials_record
from domain.ports import FieldSealer

CredentialValue = str | list[str] | None


def validate_totp_secret(secret: str) -> str:
    """A base32 TOTP secret (spaces and case ignored), as authenticator apps show it."""
    cleaned = secret.replace(" ", "").upper()
    try:
        if len(cleaned) < 16:
            raise ValueError
        base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "twoFactorSecret must be a base32 TOTP secret of at least 16 characters.",
            field="credentials.twoFactorSecret",
            code="invalid_two_factor_secret",
        ) from None
    return cleaned


def seal_changes(
    sealer: FieldSealer, account: Account, changes: dict[str, CredentialValue]
) -> tuple[dict[str, dict[str, str]], int]:
    """The account's sealed credentials after `changes`: a value replaces a field, None removes it, an absent
    field stays as it is. Returns the sealed map and the number of backup codes."""
    sealed = dict(account.credentials)
    count = account.backup_codes_count
    record = credentials_record(account.id)
    for name, value in changes.items():
        if name not in CREDENTIAL_FIELDS:
            raise InvalidInput(f"Unknown credential field {name!r}.", field=f"credentials.{name}")
        if value is None or value == "" or value == []:
            sealed.pop(name, None)
            if name == "backupCodes":
                count = 0
            continue
        if name == "backupCodes":
            codes = [str(c).strip() for c in (value if isinstance(value, list) else [value]) if str(c).strip()]
            plaintext = json.dumps(codes)
            count = len(codes)
        else:
            plaintext = validate_totp_secret(str(value)) if name == "twoFactorSecret" else str(value)
        sealed[name] = sealer.encrypt(plaintext, record=record, field=credential_field(name))
    return sealed, count


def open_all(sealer: FieldSealer, account: Account) -> dict[str, Any]:
    record = credentials_record(account.id)
    out: dict[str, Any] = {}
    for name, stored in account.credentials.items():
        value = sealer.decrypt_str(stored, record=record, field=credential_field(name))
        out[name] = json.loads(value) if name == "backupCodes" else value
    return out


def open_one(sealer: FieldSealer, account: Account, name: str) -> str | None:
    stored = account.credentials.get(name)
    if stored is None:
        return None
    return sealer.decrypt_str(stored, record=credentials_record(account.id), field=credential_field(name))


def summary(account: Account) -> dict[str, Any]:
    """What a response may say about the credentials: which are stored, never their values."""
    stored = account.credentials
    out: dict[str, Any] = {said: name in stored for name, said in _SAID}
    out["backupCodesCount"] = account.backup_codes_count
    return out


# (field, what a summary calls it), computed once: every account response builds a summary.
_SAID = [(name, f"has{name[0].upper()}{name[1:]}") for name in CREDENTIAL_FIELDS if name != "backupCodes"]
