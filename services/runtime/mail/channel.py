"""The mail channel of the delivery queue: renders a queued mail at send time and hands it to a transport."""

from __future__ import annotations

import re

from services.runtime.delivery import DeadReason, Job, PermanentFailure, TransientFailure
from services.runtime.mail.message import build_message
from services.runtime.mail.settings import MailSettings
from services.runtime.mail.templates import MailTemplateError, TemplateRegistry
from services.runtime.mail.transports import FileTransport, SmtpTransport, Transport

CHANNEL = "mail"


class MailChannel:
    name = CHANNEL

    def __init__(self, settings: MailSettings, templates: TemplateRegistry, transport: Transport | None = None) -> None:
        self._settings = settings
        self._templates = templates
        self._transport: Transport = transport or (
            SmtpTransport(settings.smtp) if settings.smtp is not None else FileTransport(settings.directory)
        )

    async def deliver(self, job: Job) -> None:
        payload = job.payload
        try:
            rendered = self._templates.render(
                str(payload["template"]),
                str(payload["locale"]),
                dict(payload["params"]),
                public_url=self._settings.public_url,
            )
        except (MailTemplateError, KeyError, TypeError) as exc:
            # Checked when queued, so only a build without that template gets here.
            raise PermanentFailure(str(exc), DeadReason.UNRENDERABLE) from None
        recipient = str(payload["to"])
        message = build_message(rendered, sender=self._settings.sender, to=recipient, job_id=job.job_id)
        try:
            await self._transport.send(message, job.job_id)
        except TransientFailure as failure:
            raise TransientFailure(_without(recipient, failure.detail)) from None
        except PermanentFailure as failure:
            raise PermanentFailure(_without(recipient, failure.detail), failure.reason) from None


def _without(recipient: str, detail: str) -> str:
    """The server's answer without the recipient's address (servers often quote it):
    failures are logged and kept in clear, the address is not."""
    return re.sub(re.escape(recipient), "<recipient>", detail, flags=re.IGNORECASE)
