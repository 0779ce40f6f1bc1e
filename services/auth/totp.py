"""TOTP codes (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps), computed by cryptography's
implementation; this module only decides which time steps a code may match.

A code is accepted for the current step and one step either side (clock drift
of phones), and only for a step later than the last one accepted for the user,
so a code cannot be used twice, not even within its window.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends for HMAC-SHA-1
ISSUER = "Tenantmesh"


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def base32(secret: bytes) -> str:
    """The secret as authenticator apps take it typed in: base32 without padding."""
    return base64.b32encode(secret).decode().rstrip("=")


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238's default and every authenticator app use; HMAC-SHA-1 is not broken.
    return TOTP(secret, DIGITS, SHA1(), STEP_SECONDS, enforce_key_length=False)  # noqa: S303


def otpauth_uri(secret: bytes, account: str) -> str:
    """The provisioning URI (Key Uri Format) a QR code carries."""
    return _totp(secret).get_provisioning_uri(account, ISSUER)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP_SECONDS)


def matching_step(secret: bytes, code: str, *, after_step: int, now: float | None = None) -> int | None:
    """The time step ``code`` is valid for, if it is within the drift window and later than
    ``after_step``; None otherwise. Compares in constant time."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    step = current_step(now)
    found = None
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate(candidate * STEP_SECONDS), code.encode()) and candidate > after_step:
            found = candidate
    return found
