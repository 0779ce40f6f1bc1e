"""Mail settings (TENANTMESH_SMTP_*, TENANTMESH_MAIL_FROM), read once at startup.

Without ``TENANTMESH_SMTP_URL`` mail is written to files under the data directory
(the embedded default: ``make run`` needs no mail server).
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path

from services.runtime.config import ConfigError, EnvReader, Settings

DEFAULT_SENDER = "Tenantmesh <no-reply@tenantmesh.local>"


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    # smtps://: TLS from the first byte; smtp://: STARTTLS, required (never plain text).
    implicit_tls: bool
    username: str | None
    password: str | None = field(repr=False)
    # CA bundle that verifies the server's certificate; None: the system's trust store.
    ca_file: Path | None
    timeout_seconds: float


@dataclass(frozen=True)
class MailSettings:
    sender: Address
    # None: write .eml files into ``directory`` instead.
    smtp: SmtpServer | None
    directory: Path
    public_url: str


def parse_address(value: str) -> Address:
    """One mailbox (``user@example.com``); ValueError for anything else, header injection included."""
    try:
        address = Address(addr_spec=value)
    except Exception as exc:  # the parser raises several types, all meaning "not one address"
        raise ValueError(f"not a single mail address: {exc}") from None
    if not address.username or not address.domain or "." not in address.domain.strip("."):
        raise ValueError("not a single mail address with a domain")
    return address


def _parse_sender(value: str) -> Address:
    if any(c in value for c in ",\r\n"):
        raise ValueError("expected one address on one line")
    display_name, addr_spec = parseaddr(value)
    if not addr_spec:
        raise ValueError("expected 'Name <address>' or an address")
    address = parse_address(addr_spec)
    return Address(display_name=display_name, username=address.username, domain=address.domain)


def _parse_smtp_url(value: str, ca_file: Path | None, timeout: float) -> SmtpServer:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("expected smtp://[user:password@]host[:port] (STARTTLS) or smtps:// (TLS)")
    if not parts.hostname:
        raise ValueError("no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("unexpected path, query or fragment")
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=parts.port or (465 if implicit_tls else 587),
        implicit_tls=implicit_tls,
        username=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password is not None else None,
        ca_file=ca_file,
        timeout_seconds=timeout,
    )


def load_mail_settings(settings: Settings) -> MailSettings:
    read = EnvReader(settings.environment)
    ca_file = read.get("TENANTMESH_SMTP_CA_FILE", None, Path)
    if ca_file is not None and not ca_file.is_file():
        raise ConfigError(f"TENANTMESH_SMTP_CA_FILE={str(ca_file)!r} is not a readable file")
    timeout = read.positive("TENANTMESH_SMTP_TIMEOUT_SECONDS", 30.0)
    url = read.raw("TENANTMESH_SMTP_URL")
    smtp: SmtpServer | None = None
    if url is not None:
        try:
            smtp = _parse_smtp_url(url, ca_file, timeout)
        except ValueError as exc:
            # The URL may hold a password: the message names the variable, not the value.
            raise ConfigError(f"TENANTMESH_SMTP_URL is not valid: {exc}") from None
    return MailSettings(
        sender=read.get("TENANTMESH_MAIL_FROM", _parse_sender(DEFAULT_SENDER), _parse_sender),
        smtp=smtp,
        directory=settings.data_dir / "mail",
        public_url=settings.public_url,
    )
