"""gRPC credentials from mesh certificates: servers that require a client certificate and
pick up re-issued files at the next handshake, channels that present the caller's own."""

from __future__ import annotations

import logging
import threading
from typing import Any

import grpc

from services.runtime.mesh_tls.material import Material, MeshTls, MeshTlsError

log = logging.getLogger("tenantmesh.mesh_tls")


def _configuration(material: Material) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(material.key, material.cert)], root_certificates=material.ca)


class _Reloader:
    """The fetcher grpc calls on every handshake: new files are used from the next connection on.

    A stat of three files per handshake (connections are long-lived HTTP/2) instead of a timer.
    A half-replaced set (new certificate, old key) fails to load and the current one is kept
    until the files agree again, so a rotation never takes a server down.
    """

    def __init__(self, tls: MeshTls, service: str, first: Material) -> None:
        self._tls = tls
        self._service = service
        self._stamp = first.stamp
        self._lock = threading.Lock()  # grpc may call it from several threads

    def __call__(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            if self._tls.stamp(self._service) == self._stamp:
                return None
            try:
                material = self._tls.read(self._service)
            except MeshTlsError as exc:
                log.warning("keeping the current mesh certificate: %s", exc)
                return None
            self._stamp = material.stamp
            log.info("mesh certificate of %s reloaded", self._service)
            return _configuration(material)


def server_credentials(tls: MeshTls, service: str) -> grpc.ServerCredentials:
    """Server credentials for ``service``: its certificate, clients must present one from the CA."""
    first = tls.read(service)
    # The stubs say the fetcher returns a configuration; grpc documents None as "keep the current".
    fetcher: Any = _Reloader(tls, service, first)
    return grpc.dynamic_ssl_server_credentials(_configuration(first), fetcher, require_client_authentication=True)


def channel_credentials(tls: MeshTls, caller: str) -> tuple[grpc.ChannelCredentials, tuple[int, ...]]:
    """Credentials presenting ``caller``'s certificate, and the stamp of the files they were read from
    (channels are rebuilt when it changes: a channel's credentials are fixed when it is made)."""
    material = tls.read(caller)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=material.ca, private_key=material.key, certificate_chain=material.cert
    )
    return credentials, tuple(part for stamp in material.stamp for part in stamp)
