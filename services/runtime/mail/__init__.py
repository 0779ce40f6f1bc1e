"""Mail through the delivery queue: templates in English and Bahasa Indonesia, SMTP or files.

```python
from services.runtime.mail import Mail, queue_mail, register_templates

register_templates("auth", Path(__file__).parent / "mail_templates")
queue_mail(session, Mail(template="auth/invitation", to=email, locale="id", params={...}, tenant_id=tenant_id))
```

``queue_mail`` adds the mail to the caller's core-database transaction: it goes out only
if that commits, and then at once (the process's dispatcher is woken after the commit).
The template and its parameters are rendered when queued, so an unknown template or a
missing parameter fails the caller (a programming error), not the delivery; the mail is
rendered again when sent. Parameters (tokens, names) and the address are sealed at rest
and wiped once the mail is sent. A process sends mail once ``Runtime.enable_mail()`` ran.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.delivery import Delivery
from services.runtime.mail.channel import CHANNEL, MailChannel
from services.runtime.mail.settings import MailSettings, load_mail_settings, parse_address
from services.runtime.mail.templates import LOCALES, TEMPLATES, MailTemplateError, RenderedMail, TemplateRegistry

__all__ = [
    "LOCALES",
    "Mail",
    "MailChannel",
    "MailSettings",
    "MailTemplateError",
    "RenderedMail",
    "TemplateRegistry",
    "load_mail_settings",
    "queue_mail",
    "register_templates",
]


# Stands in for the public URL when a mail is checked at queue time (the sender renders the real one).
_CHECK_URL = "https://tenantmesh.invalid"


@dataclass(frozen=True)
class Mail:
    # "<prefix>/<name>" of a registered template.
    template: str
    # One address (user@example.com).
    to: str
    # Template variables; JSON values only (they are stored until sent).
    params: Mapping[str, Any] = field(default_factory=dict)
    # "en" or "id" (a region such as "id-ID" is ignored); others fall back to English.
    locale: str = "en"
    # The tenant the mail is sent for, if any (operators see it on dead letters).
    tenant_id: str | None = None


def register_templates(prefix: str, directory: Path) -> None:
    """Registers the templates under ``directory`` as ``<prefix>/<sub-directory>``; call at import."""
    TEMPLATES.register(prefix, directory)


def queue_mail(session: AsyncSession, mail: Mail) -> str:
    """Queues ``mail`` in the session's transaction (a core session); returns the delivery job id.

    Raises MailTemplateError (unknown template, missing parameter), ValueError (not one
    address, parameters that are not JSON) or DeliveryNotEnabled: all programming errors.
    """
    delivery = Delivery.of(session)
    try:
        parse_address(mail.to)
    except ValueError as exc:
        raise ValueError(f"mail recipient: {exc}") from None
    try:
        # As they will be stored and rendered at send time.
        params = json.loads(json.dumps(dict(mail.params)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"mail parameters must be JSON values: {exc}") from None
    # Rendered now only to find mistakes while the caller can still roll back.
    TEMPLATES.render(mail.template, mail.locale, params, public_url=_CHECK_URL)
    payload = {"template": mail.template, "to": mail.to, "locale": mail.locale, "params": params}
    return delivery.add(session, CHANNEL, payload, topic=mail.template, tenant_id=mail.tenant_id)
