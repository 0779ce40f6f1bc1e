"""Blob keys: ``tenants/<tenant_id>/<service>/<name>``.

Only :func:`blob_key` makes keys, and it takes the tenant as the runtime knows it, never from a
request. Names are checked so that no name can climb out of its tenant's folder or read as
another key on a file system: segments of letters, digits, ``.``, ``_`` and ``-`` that do not
start with a dot, joined by single slashes.
"""

from __future__ import annotations

import re

MAX_NAME_LENGTH = 400
_TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_SERVICE = re.compile(r"[a-z][a-z0-9-]{0,31}")
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")

TENANTS_FOLDER = "tenants"


def tenant_prefix(tenant_id: str) -> str:
    """The folder every blob of the tenant is under (with its trailing slash)."""
    if not _TENANT_ID.fullmatch(tenant_id):
        raise ValueError(f"not a tenant id: {tenant_id!r}")
    return f"{TENANTS_FOLDER}/{tenant_id}/"


def service_prefix(tenant_id: str, service: str) -> str:
    """The folder of every blob ``service`` keeps for the tenant (with its trailing slash)."""
    if not _SERVICE.fullmatch(service):
        raise ValueError(f"not a service name: {service!r}")
    return f"{tenant_prefix(tenant_id)}{service}/"


def blob_key(tenant_id: str, service: str, name: str) -> str:
    """The key of ``name`` of ``service`` in the tenant's folder; ValueError for a bad part."""
    if not name or len(name) > MAX_NAME_LENGTH or not all(_SEGMENT.fullmatch(s) for s in name.split("/")):
        raise ValueError(f"not a blob name: {name!r}")
    return f"{service_prefix(tenant_id, service)}{name}"
