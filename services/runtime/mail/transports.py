"""Where rendered mail goes: an SMTP server (production) or .eml files (the embedded default).

Failures are sorted for the delivery queue. Permanent means the message itself is
refused (a 5xx to its recipient or its content): sending it again cannot help, so it
is dead-lettered at once. Everything else (server down, 4xx, TLS or authentication
trouble, our own configuration) is transient and retried: an operator can fix the
server or the settings and the queued mail still goes out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib

from services.runtime.config import ConfigError
from services.runtime.delivery import PermanentFailure, TransientFailure
from services.runtime.mail.settings import SmtpServer

log = logging.getLogger("tenantmesh.mail")


class Transport(Protocol):
    async def send(self, message: EmailMessage, job_id: str) -> None: ...


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpTransport:
    """One connection per message: mail is rare enough that pooling would only hold sockets open."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server
        try:
            self._tls = ssl.create_default_context(cafile=str(server.ca_file) if server.ca_file else None)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"TENANTMESH_SMTP_CA_FILE is not a readable PEM CA bundle: {exc}") from None

    async def send(self, message: EmailMessage, job_id: str) -> None:
        server = self._server
        try:
            await aiosmtplib.send(
                message,
                hostname=server.host,
                port=server.port,
                username=server.username,
                password=server.password,
                use_tls=server.implicit_tls,
                # True means required: a server that does not offer STARTTLS gets no mail.
                start_tls=not server.implicit_tls,
                tls_context=self._tls,
                timeout=server.timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            detail = "; ".join(f"{refused.code} {refused.message}" for refused in exc.recipients)
            if codes and all(_is_permanent(code) for code in codes):
                raise PermanentFailure(f"recipient refused: {detail}") from None
            raise TransientFailure(f"recipient deferred: {detail}") from None
        except aiosmtplib.SMTPDataError as exc:
            if _is_permanent(exc.code):
                raise PermanentFailure(f"message refused: {exc.code} {exc.message}") from None
            raise TransientFailure(f"message deferred: {exc.code} {exc.message}") from None
        except aiosmtplib.SMTPResponseException as exc:
            raise TransientFailure(f"{type(exc).__name__}: {exc.code} {exc.message}") from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # Connection refused or lost, timeouts, TLS failures (ssl.SSLError is an OSError),
            # STARTTLS not offered.
            raise TransientFailure(f"{type(exc).__name__}: {exc}") from None


class FileTransport:
    """Writes each message to ``<directory>/<job id>.eml``: a resent job overwrites its own file."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def send(self, message: EmailMessage, job_id: str) -> None:
        try:
            path = await asyncio.to_thread(self._write, message.as_bytes(), job_id)
        except OSError as exc:
            raise TransientFailure(f"cannot write mail file: {exc.strerror or exc}") from None
        # Where, never what: the file holds the links and tokens.
        log.info("mail written to %s", path)

    def _write(self, content: bytes, job_id: str) -> Path:
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkdir leaves an existing directory's mode alone (and the umask may narrow a new one).
        os.chmod(self._directory, 0o700)
        target = self._directory / f"{job_id}.eml"
        # mkstemp creates 0600; renamed into place so a reader never sees half a message.
        fd, temporary = tempfile.mkstemp(dir=self._directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target
