"""Settings of the auth service (environment variables, read once)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.runtime.config import EnvReader, load_key_encryption_key
from services.runtime.cpus import usable_cpus


@dataclass(frozen=True)
class AuthSettings:
    access_token_ttl_seconds: float
    refresh_token_ttl_seconds: float
    api_token_ttl_seconds: float
    # 32-byte key that encrypts signing keys' private parts at rest.
    key_encryption_key: bytes
    admin_email: str
    # None: generate one on first start and print it once.
    admin_password: str | None
    login_max_failures: int
    login_lock_seconds: float
    login_max_lock_seconds: float
    address_max_failures: int
    # A rotated-in signing key is published this long before it signs; at least
    # the edge's JWKS cache time (300 s), since Envoy does not refetch on an unknown kid.
    signing_key_activation_delay_seconds: float
    # Rotations closer together than this are refused: each key stays published for a
    # token lifetime, so unlimited rotation would grow the JWKS without bound.
    signing_key_min_rotation_seconds: float
    # Threads that run argon2 (each holds 19 MiB while it works): by default the
    # CPUs this process may use, cgroup quota included.
    hashing_threads: int
    # Lifetimes of mailed tokens.
    invitation_ttl_seconds: float = 7 * 86400.0
    # The shortest time between two mails of one invitation (ResendInvitation).
    invitation_resend_seconds: int = 60
    email_verification_ttl_seconds: float = 2 * 86400.0
    password_reset_ttl_seconds: float = 1800.0
    # Password reset requests before a lock, per (tenant, email) and per client address.
    reset_max_per_address: int = 3
    reset_max_per_client: int = 20


def load_auth_settings(data_dir: Path, env: Mapping[str, str] | None = None) -> AuthSettings:
    source = os.environ if env is None else env
    read = EnvReader(source)
    # The platform's key-encryption key (a runtime setting; generated in the embedded default).
    kek = load_key_encryption_key(source, data_dir)
    return AuthSettings(
        access_token_ttl_seconds=read.positive("TENANTMESH_ACCESS_TOKEN_TTL_SECONDS", 900.0),
        refresh_token_ttl_seconds=read.positive("TENANTMESH_REFRESH_TOKEN_TTL_SECONDS", 30 * 86400.0),
        api_token_ttl_seconds=read.positive("TENANTMESH_API_TOKEN_TTL_SECONDS", 600.0),
        key_encryption_key=kek,
        admin_email=read.get("TENANTMESH_ADMIN_EMAIL", "admin@tenantmesh.local", str).lower(),
        admin_password=read.raw("TENANTMESH_ADMIN_PASSWORD"),
        login_max_failures=read.count("TENANTMESH_LOGIN_MAX_FAILURES", 5),
        login_lock_seconds=read.positive("TENANTMESH_LOGIN_LOCK_SECONDS", 30.0),
        login_max_lock_seconds=read.positive("TENANTMESH_LOGIN_MAX_LOCK_SECONDS", 900.0),
        address_max_failures=read.count("TENANTMESH_LOGIN_ADDRESS_MAX_FAILURES", 50),
        signing_key_activation_delay_seconds=read.get("TENANTMESH_SIGNING_KEY_ACTIVATION_DELAY_SECONDS", 330.0, float),
        signing_key_min_rotation_seconds=read.get("TENANTMESH_SIGNING_KEY_MIN_ROTATION_SECONDS", 60.0, float),
        hashing_threads=read.count("TENANTMESH_AUTH_HASHING_THREADS", usable_cpus()),
        invitation_ttl_seconds=read.positive("TENANTMESH_INVITATION_TTL_SECONDS", 7 * 86400.0),
        invitation_resend_seconds=read.count("TENANTMESH_INVITATION_RESEND_SECONDS", 60, minimum=0),
        email_verification_ttl_seconds=read.positive("TENANTMESH_EMAIL_VERIFICATION_TTL_SECONDS", 2 * 86400.0),
        password_reset_ttl_seconds=read.positive("TENANTMESH_PASSWORD_RESET_TTL_SECONDS", 1800.0),
        reset_max_per_address=read.count("TENANTMESH_PASSWORD_RESET_MAX_PER_ADDRESS", 3),
        reset_max_per_client=read.count("TENANTMESH_PASSWORD_RESET_MAX_PER_CLIENT", 20),
    )
