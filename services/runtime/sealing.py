"""Secrets at rest: AES-256-GCM under the platform's key-encryption key.

One key-encryption key (``TENANTMESH_KEY_ENCRYPTION_KEY``, read by
``config.load_key_encryption_key``; ``Runtime.sealer`` holds one per process) seals every
secret the platform stores: token signing keys, the payloads of queued deliveries
(mail carries single-use tokens), secret configuration fields.

A sealed value is ``nonce (12 bytes) || ciphertext || tag``; a *context* string is
bound as associated data, so a sealed value copied to another row (another key id,
another job) does not open there.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE_BYTES = 12


class UnsealError(ValueError):
    """A sealed value did not open: another key, another context, or altered bytes."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise UnsealError(f"sealed value does not open in context {context!r}") from None
