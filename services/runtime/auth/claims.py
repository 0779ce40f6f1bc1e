"""The access token format, defined once for the issuer and every verifier.

An ES256 JWT whose header names its signing key (``kid``). Claims: ``iss``,
``aud``, ``sub`` (subject), ``tid`` (tenant id), ``sid`` (session id),
``roles``, ``perms`` (effective permissions), ``iat``, ``nbf``, ``exp``, ``jti``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ISSUER = "tenantmesh"
AUDIENCE = "tenantmesh"
ALGORITHM = "ES256"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "tid", "sid", "iat", "nbf", "exp", "jti")


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    tenant_id: str
    session_id: str
    roles: tuple[str, ...]
    permissions: frozenset[str]
    issued_at: int
    expires_at: int
    token_id: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": self.subject,
            "tid": self.tenant_id,
            "sid": self.session_id,
            "roles": list(self.roles),
            "perms": sorted(self.permissions),
            "iat": self.issued_at,
            "nbf": self.issued_at,
            "exp": self.expires_at,
            "jti": self.token_id,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> AccessClaims:
        roles = payload.get("roles", [])
        perms = payload.get("perms", [])
        if not isinstance(roles, list) or not isinstance(perms, list):
            raise ValueError("roles and perms must be lists")
        return cls(
            subject=str(payload["sub"]),
            tenant_id=str(payload["tid"]),
            session_id=str(payload["sid"]),
            roles=tuple(str(r) for r in roles),
            permissions=frozenset(str(p) for p in perms),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            token_id=str(payload["jti"]),
        )
