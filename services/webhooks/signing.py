"""Webhook signatures, after the Standard Webhooks scheme (standardwebhooks.com).

A delivery carries three headers: ``webhook-id`` (the event id, the same on every
attempt and replay), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``
for each secret that currently signs, space-separated. During a rotation's
overlap there are two, so a receiver holding either secret accepts the delivery.
The timestamp is signed so a captured delivery cannot be replayed later; the id
so it cannot be passed off as another event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret
_SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, as shown to the tenant once."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One signature: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(signing_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: a signature by each secret, space-separated."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)
