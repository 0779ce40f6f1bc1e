"""Checks that a secret a test hands the platform (a password) comes back nowhere it should not:
not in a refused call's message, trailers (the grpc-status-details-bin bytes too) or log records.

``SecretWatch`` is a log handler collecting the records of the ``tenantmesh`` loggers that hold
one of the suite's fixed passwords (``KNOWN_SECRETS``); tests/grpc/conftest.py fails any test
after which it found one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import grpc

from tests.support.accounts import PASSWORD as ACCOUNTS_PASSWORD
from tests.support.auth_admin import PASSWORD as AUTH_ADMIN_PASSWORD
from tests.support.menus import PASSWORD as MENUS_PASSWORD
from tests.support.platform import ADMIN_PASSWORD
from tests.support.registry import TENANT_ADMIN_PASSWORD

# The passwords the suite signs in with or sets: none may ever reach a log.
KNOWN_SECRETS = (ADMIN_PASSWORD, AUTH_ADMIN_PASSWORD, ACCOUNTS_PASSWORD, MENUS_PASSWORD, TENANT_ADMIN_PASSWORD)

# The attributes every LogRecord has; any other one came from ``extra=`` and is logged too.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def record_text(record: logging.LogRecord) -> str:
    """All a formatter may write of ``record``: its message, its extra fields, its exception."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a message whose arguments do not fit: both, as they are
        parts = [str(record.msg), repr(record.args)]
    parts.extend(f"{key}={value!r}" for key, value in record.__dict__.items() if key not in _STANDARD)
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def error_disclosures(error: grpc.aio.AioRpcError, secret: str) -> list[str]:
    """Where a failed call's answer carries ``secret``: its message or any metadata value."""
    found: list[str] = []
    if secret in (error.details() or ""):
        found.append("status message")
    for source, metadata in (("trailer", error.trailing_metadata()), ("header", error.initial_metadata())):
        for key, value in metadata or ():
            if (secret.encode() if isinstance(value, bytes) else secret) in value:
                found.append(f"{source} {key}")
    return found


def log_disclosures(records: Iterable[logging.LogRecord], secrets: Iterable[str]) -> list[str]:
    found: list[str] = []
    for record in records:
        text = record_text(record)
        found.extend(f"{record.name} {record.levelname}: {text[:300]!r}" for secret in secrets if secret in text)
    return found


def assert_not_disclosed(
    secret: str,
    *,
    error: grpc.aio.AioRpcError | None = None,
    records: Iterable[logging.LogRecord] = (),
    output: str = "",
) -> None:
    """Fails when ``secret`` is in the answer ``error``, in a log record, or in printed ``output``."""
    assert secret, "an empty secret is in everything"
    found = error_disclosures(error, secret) if error is not None else []
    found.extend(log_disclosures(records, [secret]))
    if secret in output:
        found.append("printed output")
    assert not found, f"the secret {secret!r} was disclosed: {found}"


class SecretWatch(logging.Handler):
    """Collects the records that hold one of ``secrets`` (levels are left as they are: it sees
    what would be logged anyway, at the cost of a substring search per record)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__(logging.NOTSET)
        self.secrets = tuple(secrets)
        self.disclosures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.disclosures.extend(log_disclosures([record], self.secrets))
