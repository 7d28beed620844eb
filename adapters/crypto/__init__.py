"""Field encryption, password hashing and token signing: thin wrappers over maintained libraries."""

from adapters.crypto.fields import DecryptionError, EncryptedValue, FieldCipher, Keyring, KeyringError

__all__ = ["DecryptionError", "EncryptedValue", "FieldCipher", "Keyring", "KeyringError"]
