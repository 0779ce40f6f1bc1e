"""Development certificates of the mesh's mutual TLS, one per service and one for the edge.

Issued by the development CA the edge certificate comes from (services/mesh/devtls.py),
into ``<tls dir>/mesh/<name>.pem`` and ``.key``: a SPIFFE-style URI SAN naming the
service (what servers read the caller from) and a DNS SAN with its name (what a gRPC
client checks the server against). Short-lived on purpose: ``make run`` re-issues each one
when a third of its life is left, and servers, channels and Envoy pick the new files up
without a restart. Production gets its certificates from files (deploy/).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from services.mesh.devtls import ensure_dev_tls, issue_leaf, issued_by, load_pair, write_cert, write_key
from services.runtime.mesh_tls import MeshTls, spiffe_id

MESH_VALIDITY = dt.timedelta(days=3)
# Re-issued once less than this is left (checked by the runner every RENEW_CHECK_SECONDS).
MESH_RENEW_BEFORE = dt.timedelta(days=1)
RENEW_CHECK_SECONDS = 600.0


def ensure_dev_mesh_tls(
    tls: MeshTls,
    names: Iterable[str],
    *,
    now: dt.datetime | None = None,
    validity: dt.timedelta = MESH_VALIDITY,
    renew_before: dt.timedelta = MESH_RENEW_BEFORE,
) -> list[str]:
    """Issues a certificate for every name that lacks a valid one from the dev CA; the names issued.

    The CA is the one next to ``tls.ca_file`` (services/mesh/devtls.py), made first when missing.
    """
    now = now or dt.datetime.now(dt.UTC)
    ca = dev_ca(tls, create=True)
    return [name for name in names if ensure_certificate(tls, name, ca, now, validity, renew_before)]


def ensure_certificate(
    tls: MeshTls,
    name: str,
    ca: tuple[x509.Certificate, object],
    now: dt.datetime,
    validity: dt.timedelta,
    renew_before: dt.timedelta,
) -> bool:
    """Issues ``name``'s certificate unless a valid one from ``ca`` is there; True when issued."""
    files = tls.files_of(name)
    files.cert.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    current = load_pair(files.cert, files.key, now, renew_before)
    if current is not None and issued_by(current[0], ca[0]):
        return False
    issue_dev_mesh_certificate(tls, name, ca, now, validity)
    return True


def issue_dev_mesh_certificate(
    tls: MeshTls,
    name: str,
    ca: tuple[x509.Certificate, object],
    now: dt.datetime,
    validity: dt.timedelta = MESH_VALIDITY,
) -> x509.Certificate:
    """A new key and certificate for ``name``, written over the old ones (key first: a reader that
    sees the new key with the old certificate keeps what it has until both agree)."""
    ca_cert, ca_key = ca
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(spiffe_id(tls.trust_domain, name)),
        x509.DNSName(name),
    ]
    usages = (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH)
    cert, key = issue_leaf(ca_cert, ca_key, now, name, names, validity, usages)  # type: ignore[arg-type]
    files = tls.files_of(name)
    write_key(files.key, key)
    write_cert(files.cert, cert)
    return cert


def dev_ca(tls: MeshTls, *, create: bool = False) -> tuple[x509.Certificate, object]:
    """The development CA's certificate and key, next to ``tls.ca_file`` (made with ``create``)."""
    if create:
        ensure_dev_tls(tls.ca_file.parent)
    pair = load_pair(tls.ca_file, tls.ca_file.parent / "ca.key", dt.datetime.now(dt.UTC))
    if pair is None:
        raise RuntimeError(f"no usable development CA at {tls.ca_file}")
    return pair
