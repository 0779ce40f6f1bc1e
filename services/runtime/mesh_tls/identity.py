"""SPIFFE-style identities of the mesh's processes: ``spiffe://<trust domain>/svc/<name>``."""

from __future__ import annotations

import re
from typing import Any

DEFAULT_TRUST_DOMAIN = "tenantmesh.local"
# The edge (Envoy) is named like a service: only it may write the headers the edge writes.
EDGE = "edge"
# The operator's command-line tool, when it calls the services directly.
TENANTCTL = "tenantctl"

_TRUST_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?")
_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")


def check_trust_domain(trust_domain: str) -> str:
    if _TRUST_DOMAIN.fullmatch(trust_domain) is None:
        raise ValueError(f"a trust domain is a lowercase DNS name, got {trust_domain!r}")
    return trust_domain


def spiffe_id(trust_domain: str, name: str) -> str:
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"not a service name: {name!r}")
    return f"spiffe://{trust_domain}/svc/{name}"


def service_of(identity: str, trust_domain: str) -> str | None:
    """The service an identity names, or None for anything else (another trust domain, another shape)."""
    prefix = f"spiffe://{trust_domain}/svc/"
    if not identity.startswith(prefix):
        return None
    name = identity[len(prefix) :]
    return name if _NAME.fullmatch(name) else None


def peer_service(context: Any, trust_domain: str) -> str | None:
    """The calling service as its verified client certificate names it; None without one.

    grpc sets ``peer_spiffe_id`` only from a certificate it verified against the CA (and only
    when it carries exactly one URI SAN): unlike ``peer_identities()``, which mixes URI, DNS
    and IP SANs, it cannot be matched by a DNS name that happens to look like an identity.
    """
    values: list[bytes | str] = list(context.auth_context().get("peer_spiffe_id") or ())
    if len(values) != 1:
        return None
    raw = values[0]
    identity = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw)
    return service_of(identity, trust_domain)
