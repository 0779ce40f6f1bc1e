"""A rendered mail as a MIME message: multipart/alternative, plain text first, then HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from services.runtime.mail.templates import RenderedMail


def message_id(job_id: str, sender: Address) -> str:
    """Stable per job, the same on every attempt: receivers deduplicate a resent message by it."""
    return f"<{job_id}@{sender.domain}>"


def build_message(rendered: RenderedMail, *, sender: Address, to: str, job_id: str) -> EmailMessage:
    # The default policy refuses CR/LF in header values, so nothing in a subject or an
    # address can add headers.
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id(job_id, sender)
    # RFC 3834: machine-sent; auto-responders should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    # After the body: making it multipart moves Content-* headers into the first part.
    message["Content-Language"] = rendered.locale
    return message
