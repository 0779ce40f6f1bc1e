"""The access token format, defined once for the issuer and every verifier.

An ES256 JWT whose header names its signing key (``kid``). Claims: ``iss`` (the
edge's public URL, TENANTMESH_PUBLIC_URL, so third parties can discover the keys
at ``<iss>/.well-known/openid-configuration``), ``aud`` (``tenantmesh`` for the
platform's own tokens, ``tenantmesh:service:<name>`` for a registered service's),
``sub`` (subject), ``tid`` (tenant id), ``sid`` (session id), ``roles``, ``perms``
(effective permissions), ``iat``, ``nbf``, ``exp``, ``jti``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AUDIENCE = "tenantmesh"
# The audience of tokens issued for a registered service (IssueServiceToken): never accepted
# by the platform itself, so such a token cannot be played back against the platform.
SERVICE_AUDIENCE_PREFIX = "tenantmesh:service:"
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

    def to_payload(self, issuer: str, audience: str = AUDIENCE) -> dict[str, Any]:
        return {
            "iss": issuer,
            "aud": audience,
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
