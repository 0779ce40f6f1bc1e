"""The auth service's ErrorInfo reasons."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class AuthReason(Reason):
    API_KEY_INVALID = auto()
    INVALID_CREDENTIALS = auto()
    LOGIN_LOCKED = auto()
    MEMBERSHIP_EXISTS = auto()
    MEMBERSHIP_NOT_FOUND = auto()
    NOT_A_MEMBER = auto()
    PASSWORD_TOO_WEAK = auto()
    PERMISSION_ESCALATION = auto()
    PERMISSION_NOT_GRANTABLE = auto()
    REFRESH_TOKEN_INVALID = auto()
    REFRESH_TOKEN_REUSED = auto()
    ROLE_BUILT_IN = auto()
    ROLE_EXISTS = auto()
    ROLE_IN_USE = auto()
    ROLE_NOT_FOUND = auto()
    SERVICE_ACCOUNT_EXISTS = auto()
    SERVICE_ACCOUNT_NOT_FOUND = auto()
    USER_EMAIL_TAKEN = auto()
    USER_NOT_FOUND = auto()
