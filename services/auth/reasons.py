"""The auth service's ErrorInfo reasons."""

from __future__ import annotations

from enum import auto

from services.runtime.errors import Reason


class AuthReason(Reason):
    API_KEY_INVALID = auto()
    EMAIL_TOKEN_INVALID = auto()
    HOME_MEMBERSHIP = auto()
    INVALID_CREDENTIALS = auto()
    INVITATION_EMAIL_MISMATCH = auto()
    INVITATION_EXISTS = auto()
    INVITATION_INVALID = auto()
    INVITATION_NOT_FOUND = auto()
    INVITATION_NOT_PENDING = auto()
    INVITATION_RESENT_RECENTLY = auto()
    LOGIN_LOCKED = auto()
    MEMBERSHIP_EXISTS = auto()
    MEMBERSHIP_NOT_FOUND = auto()
    MFA_ALREADY_ENROLLED = auto()
    MFA_CHALLENGE_INVALID = auto()
    MFA_CODE_INVALID = auto()
    MFA_ENROLMENT_REQUIRED = auto()
    MFA_NOT_ENROLLED = auto()
    MFA_NOT_ENROLLING = auto()
    NOT_A_MEMBER = auto()
    PASSWORD_TOO_WEAK = auto()
    PERMISSION_ESCALATION = auto()
    PERMISSION_NOT_GRANTABLE = auto()
    PLATFORM_IDENTITY_NOT_JOINABLE = auto()
    PLATFORM_TENANT_NOT_JOINABLE = auto()
    REFRESH_TOKEN_INVALID = auto()
    REFRESH_TOKEN_REUSED = auto()
    RESET_RATE_LIMITED = auto()
    RESET_TOKEN_INVALID = auto()
    ROLE_BUILT_IN = auto()
    ROLE_EXISTS = auto()
    ROLE_IN_USE = auto()
    ROLE_NOT_FOUND = auto()
    SERVICE_ACCOUNT_EXISTS = auto()
    SERVICE_ACCOUNT_NOT_FOUND = auto()
    SERVICE_NOT_EXTERNAL = auto()
    SERVICE_NOT_FOUND = auto()
    SIGNING_KEY_ROTATION_TOO_SOON = auto()
    SWITCH_RATE_LIMITED = auto()
    USER_EMAIL_TAKEN = auto()
    USER_MANAGED_ELSEWHERE = auto()
    USER_NOT_FOUND = auto()
