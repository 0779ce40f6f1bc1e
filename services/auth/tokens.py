"""Issuing access tokens and refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import jwt

from services.auth.keys import SigningKeyStore
from services.runtime.auth.claims import ALGORITHM, AUDIENCE, AccessClaims
from services.runtime.clock import epoch
from services.runtime.ids import uuid7

REFRESH_TOKEN_PREFIX = "tmr_"  # noqa: S105 - a marker, not a secret


@dataclass(frozen=True)
class IssuedToken:
    token: str
    claims: AccessClaims


def digest(secret: str) -> str:
    """SHA-256 of a high-entropy secret (refresh token, API key); what the database keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenIssuer:
    def __init__(self, keys: SigningKeyStore, access_token_ttl_seconds: float, issuer: str) -> None:
        self._keys = keys
        self._ttl = int(access_token_ttl_seconds)
        self.issuer = issuer

    async def issue(
        self,
        *,
        subject: str,
        tenant_id: str,
        session_id: str,
        roles: Iterable[str],
        permissions: Iterable[str],
        ttl_seconds: float | None = None,
        audience: str = AUDIENCE,
    ) -> IssuedToken:
        key = await self._keys.active()
        now = int(epoch())
        claims = AccessClaims(
            subject=subject,
            tenant_id=tenant_id,
            session_id=session_id,
            roles=tuple(sorted(roles)),
            permissions=frozenset(permissions),
            issued_at=now,
            expires_at=now + int(ttl_seconds or self._ttl),
            token_id=uuid7(),
        )
        token = jwt.encode(
            claims.to_payload(self.issuer, audience), key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid}
        )
        return IssuedToken(token=token, claims=claims)
