"""The registry's ErrorInfo reasons (and BadRequest field violation reasons)."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class RegistryReason(Reason):
    CONFIG_INVALID = auto()
    CONTRACT_BREAKING = auto()
    CONTRACT_INVALID = auto()
    DUPLICATE = auto()
    INSTANCE_NOT_FOUND = auto()
    LEASE_NOT_FOUND = auto()
    PARENT_CYCLE = auto()
    PARENT_UNDEFINED = auto()
    PERMISSION_PREFIX = auto()
    PERMISSION_UNDEFINED = auto()
    SCHEMA_INVALID = auto()
    SCHEMA_UNUSABLE = auto()
    SERVICE_ALREADY_ENABLED = auto()
    SERVICE_IN_USE = auto()
    SERVICE_NAME_TAKEN = auto()
    SERVICE_NOT_ENABLED = auto()
    SERVICE_NOT_FOUND = auto()
    SERVICE_VERSION_EXISTS = auto()
    SERVICE_VERSION_NOT_FOUND = auto()
    WATCH_OVERFLOW = auto()
