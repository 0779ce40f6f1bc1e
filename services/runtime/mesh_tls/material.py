"""Where a process finds its mesh certificates, and reading them when they change.

Two layouts: production gives one certificate and key per process (it serves one
service; cert-manager or any CA writes them), the embedded mesh keeps one pair per
service in a directory (``<name>.pem`` / ``<name>.key``) because one process serves
them all. Either way the CA bundle is a file of its own, so a new CA can be trusted
next to the old one while certificates are re-issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from services.runtime.mesh_tls.identity import service_of


class MeshTlsError(RuntimeError):
    """Mesh certificates missing, unreadable, or naming another service."""


@dataclass(frozen=True)
class CertificateFiles:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Material:
    """The PEM bytes of one service's credentials, and the files' state they were read in."""

    ca: bytes
    cert: bytes
    key: bytes
    stamp: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class MeshTls:
    trust_domain: str
    ca_file: Path
    # One pair for every service of the process (production), else one pair per service here.
    shared: CertificateFiles | None = None
    directory: Path | None = None

    def __post_init__(self) -> None:
        if (self.shared is None) == (self.directory is None):
            raise ValueError("give either one shared certificate or a directory of per-service certificates")

    def files_of(self, service: str) -> CertificateFiles:
        if self.shared is not None:
            return self.shared
        assert self.directory is not None
        return CertificateFiles(self.directory / f"{service}.pem", self.directory / f"{service}.key")

    def stamp(self, service: str) -> tuple[tuple[int, int, int], ...]:
        """Changes whenever one of the service's files is replaced or rewritten."""
        files = self.files_of(service)
        stamps = []
        for path in (self.ca_file, files.cert, files.key):
            try:
                stat = path.stat()
            except OSError:
                stamps.append((0, 0, 0))
            else:
                stamps.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
        return tuple(stamps)

    def read(self, service: str) -> Material:
        """The service's CA bundle, certificate and key; MeshTlsError naming the file otherwise.

        The certificate must name ``service``: a process given another service's certificate
        (a mounting mistake) would otherwise be refused by every peer, or believed as that service.
        """
        files = self.files_of(service)
        # Stamped before reading: a file replaced meanwhile is read again on the next check.
        stamp = self.stamp(service)
        ca, cert, key = (_read(path) for path in (self.ca_file, files.cert, files.key))
        if not _key_matches(cert, key):
            # Half of a rotation (new key, old certificate): the caller keeps what it has.
            raise MeshTlsError(f"{files.key} is not the key of {files.cert}")
        named = certificate_identity(cert, self.trust_domain)
        if named != service:
            raise MeshTlsError(
                f"{files.cert} names {named or 'no service of this trust domain'}, not {service!r} "
                f"(expected URI SAN spiffe://{self.trust_domain}/svc/{service})"
            )
        return Material(ca=ca, cert=cert, key=key, stamp=stamp)


def certificate_identity(pem: bytes, trust_domain: str) -> str | None:
    """The service named by the first certificate of ``pem`` (its only spiffe URI SAN), else None."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return None
    uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
    if len(uris) != 1:
        return None
    return service_of(uris[0], trust_domain)


def _key_matches(cert_pem: bytes, key_pem: bytes) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return False
    return bool(cert.public_key() == key.public_key())


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MeshTlsError(f"cannot read mesh TLS file {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise MeshTlsError(f"mesh TLS file {path} is empty")
    return data
