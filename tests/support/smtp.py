"""A real SMTP server for tests: aiosmtpd on a free port, STARTTLS required, AUTH required.

The server runs in the test's event loop and keeps every message it accepted. It can be
stopped and started again on the same port (a mail server outage), told to refuse a
recipient for good (5xx) or for now (4xx), and started without TLS (to show that
nothing is sent in the clear). Helpers read a message's text and HTML parts and find
the links in them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from services.mesh.devtls import ensure_dev_tls
from tests.support.ports import free_port

# Delivery settings that make retries take milliseconds: add to a platform's environment
# next to ``SmtpTestServer.env()`` in tests where the server goes down or defers.
FAST_DELIVERY_ENV = {
    "TENANTMESH_DELIVERY_RETRY_BASE_SECONDS": "0.05",
    "TENANTMESH_DELIVERY_RETRY_MAX_SECONDS": "0.2",
    "TENANTMESH_DELIVERY_POLL_SECONDS": "0.1",
    "TENANTMESH_DELIVERY_LEASE_SECONDS": "5",
}

USERNAME = "mailer"
PASSWORD = "s3cret-smtp-password"
_LINK = re.compile(r"https?://[^\s\"'<>]+")


def _not_login_data_notice(record: logging.LogRecord) -> bool:
    # aiosmtpd 1.4 warns about its own use of a deprecated attribute on every AUTH.
    return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_not_login_data_notice)


@dataclass(frozen=True)
class ReceivedMail:
    envelope_from: str
    envelope_to: tuple[str, ...]
    message: EmailMessage
    # Whether the session that delivered it had been upgraded to TLS and authenticated.
    tls: bool
    authenticated: bool

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def text(self) -> str:
        return body_of(self.message, "plain")

    def html(self) -> str:
        return body_of(self.message, "html")

    def links(self) -> list[str]:
        """Links of the text part, in order."""
        return links_in(self.text())

    def link(self, starting_with: str) -> str:
        """The one link of the text part that starts with ``starting_with``."""
        return link_in(self.text(), starting_with)


def read_eml(path: Path) -> EmailMessage:
    """A message the file transport wrote."""
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body_of(message: EmailMessage, subtype: str) -> str:
    """The decoded body of the message's text/<subtype> part."""
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        raise AssertionError(f"message has no text/{subtype} part")
    content = body.get_content()
    assert isinstance(content, str)
    return content


def links_in(text: str) -> list[str]:
    return _LINK.findall(text)


def link_in(text: str, starting_with: str) -> str:
    found = [link for link in links_in(text) if link.startswith(starting_with)]
    assert len(found) == 1, f"expected one link starting with {starting_with!r}, found {found}"
    return found[0]


@dataclass
class _Handler:
    server: SmtpTestServer

    async def handle_RCPT(
        self, _server: SMTP, _session: Session, envelope: Envelope, address: str, _options: list[str]
    ) -> str:
        refusal = self.server.refusals.get(address.lower())
        if refusal is not None:
            code, remaining = refusal
            if remaining != 0:
                if remaining > 0:
                    self.server.refusals[address.lower()] = (code, remaining - 1)
                # Quoting the address, as real servers do.
                text = "5.1.1 no such mailbox" if code >= 500 else "4.2.1 try again later"
                return f"{code} {text}: <{address}>"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.server.received.append(
            ReceivedMail(
                envelope_from=envelope.mail_from or "",
                envelope_to=tuple(envelope.rcpt_tos),
                message=message,
                tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        self.server.arrived.set()
        return "250 Message accepted for delivery"


def _authenticate(_server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == USERNAME.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok)


@dataclass
class SmtpTestServer:
    tls_dir: Path
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    received: list[ReceivedMail] = field(default_factory=list)
    # Address -> (SMTP code, how many more RCPTs to refuse; -1 for ever).
    refusals: dict[str, tuple[int, int]] = field(default_factory=dict)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None

    @property
    def ca_file(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def url(self) -> str:
        return f"smtp://{USERNAME}:{PASSWORD}@{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The settings that send a platform's mail here."""
        return {"TENANTMESH_SMTP_URL": self.url, "TENANTMESH_SMTP_CA_FILE": str(self.ca_file)}

    async def start(self, *, tls: bool = True) -> None:
        """Listens (again) on the same port; ``tls=False`` offers neither STARTTLS nor AUTH."""
        if self._server is not None:
            return
        context: ssl.SSLContext | None = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls_dir / "server.pem", self.tls_dir / "server.key")

        def protocol() -> SMTP:
            if context is None:
                return SMTP(_Handler(self), hostname="localhost", auth_require_tls=True)
            return SMTP(
                _Handler(self),
                hostname="localhost",
                tls_context=context,
                require_starttls=True,
                auth_required=True,
                auth_require_tls=True,
                authenticator=_authenticate,
            )

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(protocol, self.host, self.port, reuse_address=True)

    async def stop(self) -> None:
        """Stops listening (a mail server outage); what it received stays."""
        if self._server is None:
            return
        self._server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), timeout=2)
        self._server = None

    def refuse(self, address: str, code: int = 550, times: int = -1) -> None:
        """Answers RCPT TO ``address`` with ``code`` (``times`` times; -1: always)."""
        self.refusals[address.lower()] = (code, times)

    def accept(self, address: str) -> None:
        self.refusals.pop(address.lower(), None)

    def messages_to(self, address: str) -> list[ReceivedMail]:
        return [mail for mail in self.received if address.lower() in (to.lower() for to in mail.envelope_to)]

    async def wait_for(
        self, count: int = 1, *, within: float = 10.0, where: Callable[[ReceivedMail], bool] | None = None
    ) -> list[ReceivedMail]:
        """Until at least ``count`` (matching) messages have arrived; fails after ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            matching = [mail for mail in self.received if where is None or where(mail)]
            if len(matching) >= count:
                return matching
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"expected {count} message(s), received {len(matching)} within {within} s")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout=min(remaining, 0.2))


@pytest.fixture(scope="session")
def smtp_tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA and a certificate for localhost / 127.0.0.1, made once per run."""
    directory = tmp_path_factory.mktemp("smtp-tls")
    ensure_dev_tls(directory)
    return directory


@pytest.fixture
async def smtp_server(smtp_tls_dir: Path) -> AsyncIterator[SmtpTestServer]:
    """A running SMTP server (STARTTLS + AUTH required) on a free port; ``.env()`` points a platform at it."""
    server = SmtpTestServer(smtp_tls_dir)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
