"""The auth service's mail: its templates and one way to queue a message.

Mail goes through the runtime's durable delivery queue in the caller's
transaction (``queue_mail``), so a message exists exactly when the change it
belongs to committed, and is retried until the server takes it. Templates live
in ``mail_templates/<name>/<locale>.{subject.txt,txt,html}`` in English and
Bahasa Indonesia; links start with the platform's public URL (``public_url``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.mail import Mail, queue_mail, register_templates

register_templates("auth", Path(__file__).parent / "mail_templates")

LOCALES = ("en", "id")


def send(
    session: AsyncSession, template: str, to: str, params: Mapping[str, str], *, locale: str, tenant_id: str
) -> None:
    """Queues ``auth/<template>`` to ``to`` in ``session``'s transaction."""
    queue_mail(
        session,
        Mail(
            template=f"auth/{template}",
            to=to,
            params=dict(params),
            locale=locale if locale in LOCALES else "en",
            tenant_id=tenant_id or None,
        ),
    )


def masked(email: str) -> str:
    """An address as told to someone who may not be its owner: ``a***@example.test``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
