"""A webhook's signing secrets, sealed at rest under the key-encryption key."""

from __future__ import annotations

from datetime import datetime

from services.runtime.sealing import Sealer
from services.webhooks.models import WebhookRow


def _context(webhook_id: str, which: str) -> str:
    # A sealed secret opens only in its own row and slot.
    return f"webhook-secret:{webhook_id}:{which}"


def seal_secret(sealer: Sealer, webhook_id: str, secret: str, *, previous: bool = False) -> bytes:
    return sealer.seal(secret.encode(), _context(webhook_id, "previous" if previous else "current"))


def current_secret(sealer: Sealer, row: WebhookRow) -> str:
    return sealer.open(row.secret, _context(row.webhook_id, "current")).decode()


def signing_secrets(sealer: Sealer, row: WebhookRow, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its overlap."""
    found = [current_secret(sealer, row)]
    expires = row.previous_secret_expire_time
    if row.previous_secret is not None and expires is not None and now < expires:
        found.append(sealer.open(row.previous_secret, _context(row.webhook_id, "previous")).decode())
    return found
