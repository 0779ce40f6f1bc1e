"""Where a tenant's data lives, and the only path from user text to a database identifier."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Lowercase DNS label, 3-40 chars. Kept deliberately narrower than what MySQL would
# accept so that a slug can be embedded in an identifier without any escaping.
_SLUG_RE = re.compile(r"[a-z][a-z0-9-]{1,38}[a-z0-9]")
# Tenant database names are <prefix><slug with - as _>. The prefix is per platform
# (TENANTMESH_TENANT_DB_PREFIX), so that platforms sharing a database server keep
# their tenants apart; at most 24 characters keeps the name within MySQL's 64.
DEFAULT_TENANT_DB_PREFIX = "tenant_"
_PREFIX_RE = re.compile(r"[a-z][a-z0-9_]{0,23}")
_TENANT_DB_RE = re.compile(r"[a-z][a-z0-9_]{3,63}")
_CORE_DB_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class TenantDatabase:
    """A tenant's database: ``server`` is a configured server name, ``name`` the database name.

    The name is re-validated on construction because it ends up in DDL, in ``USE`` and, on
    SQLite, in a file path; a value built by hand must not be able to bypass the whitelist.
    That it carries this platform's tenant prefix (and so is no core database) is checked
    by the DatabaseRouter, which knows the prefix, before it touches the database.
    """

    server: str
    name: str
    # Set while the database is being moved (see services.runtime.db.write_freeze); not part of
    # the database's identity, so a frozen and an unfrozen view of it compare equal.
    writes_frozen: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        if not self.server:
            raise ValueError("tenant database server name must not be empty")
        if _TENANT_DB_RE.fullmatch(self.name) is None:
            raise ValueError(f"invalid tenant database name: {self.name!r}")


def check_tenant_db_prefix(prefix: str) -> str:
    """The prefix if it is a lowercase identifier start of 1 to 24 characters; ValueError otherwise."""
    if _PREFIX_RE.fullmatch(prefix) is None:
        raise ValueError(f"invalid tenant database prefix {prefix!r}: expected {_PREFIX_RE.pattern}")
    return prefix


def tenant_database_name(slug: str, prefix: str = DEFAULT_TENANT_DB_PREFIX) -> str:
    """Map a tenant slug to its database name, rejecting anything outside the whitelist."""
    # Re-checked here even if the API layer validated already: this function is the
    # last line of defence before the value becomes part of a SQL identifier.
    if _SLUG_RE.fullmatch(slug) is None:
        raise ValueError(f"invalid tenant slug: {slug!r}")
    return check_tenant_db_prefix(prefix) + slug.replace("-", "_")


def is_valid_database_name(name: str) -> bool:
    """True if ``name`` is a tenant database name or an acceptable core database name."""
    return _TENANT_DB_RE.fullmatch(name) is not None or _CORE_DB_RE.fullmatch(name) is not None


def quote_database_identifier(name: str) -> str:
    """Backtick-quote a database name for raw MySQL statements (``USE``, ``CREATE DATABASE``).

    Only whitelisted shapes are accepted, so quoting never has to escape anything.
    """
    if not is_valid_database_name(name):
        raise ValueError(f"refusing to quote database identifier: {name!r}")
    return f"`{name}`"
