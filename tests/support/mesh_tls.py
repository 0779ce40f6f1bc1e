"""Mutual TLS for in-process test platforms: development certificates and client channels.

The test itself calls the services as a mesh identity of its own (``TESTER``): a service of
the platform's CA that is none of the platform's services, so it gets no privilege an
identity gives (the edge's headers, internal-only RPCs) unless a test presents one on purpose.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

import grpc
from cryptography import x509

from services.mesh.dev_mesh_tls import ensure_dev_mesh_tls
from services.runtime.client import create_mesh_channel
from services.runtime.mesh_tls import EDGE, TENANTCTL, MeshTls, channel_credentials

TESTER = "tester"
MESH_TLS_ENV = {"TENANTMESH_MESH_TLS": "dev"}


def issue_test_certificates(tls: MeshTls, services: Iterable[str]) -> None:
    """Development certificates for ``services``, the edge, tenantctl and the tester."""
    ensure_dev_mesh_tls(tls, [*services, EDGE, TENANTCTL, TESTER])


def mesh_channel(tls: MeshTls, target: str, service: str, caller: str = TESTER) -> grpc.aio.Channel:
    """A channel to ``service`` at ``target`` presenting ``caller``'s certificate."""
    credentials, _ = channel_credentials(tls, caller)
    return create_mesh_channel(target, service, credentials)


def served_certificate(tls: MeshTls, address: str, service: str, caller: str = TESTER) -> x509.Certificate:
    """The certificate a server presents on a new connection (a TLS handshake, no gRPC call)."""
    files = tls.files_of(caller)
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    context.load_cert_chain(str(files.cert), str(files.key))
    context.set_alpn_protocols(["h2"])
    host, _, port = address.rpartition(":")
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=service) as wrapped,
    ):
        der = wrapped.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)
