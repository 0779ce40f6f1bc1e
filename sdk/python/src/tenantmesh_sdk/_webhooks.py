"""Checks that a webhook delivery came from Tenantmesh (the Standard Webhooks scheme).

Deliveries carry ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
headers; the signature is ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``
under the webhook's signing secret (``whsec_...``). During a secret rotation the
header holds a signature by the old and by the new secret; either one verifies.
Verify the raw body exactly as received, before parsing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

_PREFIX = "whsec_"
# Deliveries older or newer than this are refused: a captured delivery cannot be replayed later.
DEFAULT_TOLERANCE_SECONDS = 300


class WebhookVerificationError(Exception):
    """The delivery is not authentic (or too old): answer it with 400 and ignore it."""


class WebhookVerifier:
    """Verifies deliveries with one secret (or several, while you switch to a rotated one)."""

    def __init__(self, *secrets: str, tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS) -> None:
        if not secrets:
            raise ValueError("give at least one signing secret")
        try:
            self._keys = [base64.b64decode(secret.removeprefix(_PREFIX), validate=True) for secret in secrets]
        except binascii.Error:
            raise ValueError("a signing secret is 'whsec_' followed by base64") from None
        self._tolerance = tolerance_seconds

    def verify(self, body: bytes, headers: Mapping[str, str], *, now: float | None = None) -> dict[str, Any]:
        """Returns the delivered event (parsed JSON) if the headers sign ``body``; raises
        WebhookVerificationError otherwise. Header names are matched case-insensitively."""
        lowered = {name.lower(): value for name, value in headers.items()}
        message_id = lowered.get("webhook-id", "")
        stamp = lowered.get("webhook-timestamp", "")
        signatures = lowered.get("webhook-signature", "")
        if not (message_id and stamp and signatures):
            raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
        try:
            timestamp = int(stamp)
        except ValueError:
            raise WebhookVerificationError("webhook-timestamp is not a number") from None
        current = time.time() if now is None else now
        if abs(current - timestamp) > self._tolerance:
            raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
        signed = f"{message_id}.{timestamp}.".encode() + body
        expected = [hmac.new(key, signed, hashlib.sha256).digest() for key in self._keys]
        for candidate in signatures.split():
            version, _, encoded = candidate.partition(",")
            if version != "v1":
                continue
            try:
                given = base64.b64decode(encoded, validate=True)
            except binascii.Error:
                continue
            if any(hmac.compare_digest(given, digest) for digest in expected):
                event: dict[str, Any] = json.loads(body)
                return event
        raise WebhookVerificationError("no signature matches")
