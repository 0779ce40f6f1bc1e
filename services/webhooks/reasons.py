"""The webhooks service's ErrorInfo reasons."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class WebhookReason(Reason):
    DELIVERY_NOT_FOUND = auto()
    WEBHOOK_LIMIT_REACHED = auto()
    WEBHOOK_NOT_FOUND = auto()
    WEBHOOK_URL_FORBIDDEN = auto()
    WEBHOOK_URL_UNRESOLVABLE = auto()
