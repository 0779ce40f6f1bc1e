"""Mutual TLS inside the mesh: who a process is, and who called it.

Every hop behind the edge (Envoy -> service, service -> service) is TLS in both
directions with certificates from the platform's CA. A certificate names one
service in a SPIFFE-style URI SAN (``spiffe://<trust domain>/svc/<name>``, the edge
is ``edge``); servers read the caller's name from it, never from metadata. Files
are read again when they change, so certificates rotate without a restart.
"""

from services.runtime.mesh_tls.credentials import channel_credentials, server_credentials
from services.runtime.mesh_tls.identity import (
    DEFAULT_TRUST_DOMAIN,
    EDGE,
    TENANTCTL,
    peer_service,
    service_of,
    spiffe_id,
)
from services.runtime.mesh_tls.material import CertificateFiles, MeshTls, MeshTlsError, certificate_identity

__all__ = [
    "DEFAULT_TRUST_DOMAIN",
    "EDGE",
    "TENANTCTL",
    "CertificateFiles",
    "MeshTls",
    "MeshTlsError",
    "certificate_identity",
    "channel_credentials",
    "peer_service",
    "server_credentials",
    "service_of",
    "spiffe_id",
]
