"""Development TLS material for the edge: a private CA and a localhost server cert.

Generated once under ``.data/`` (git-ignored) and reused; regenerated only when a
file is missing, unreadable or expires within a week. Trust ``ca.pem`` in a browser
or pass it to clients (``curl --cacert``, ``grpc.ssl_channel_credentials``). Never
use this in production: see envoy/README.md for real certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=7)
# Backdated a little so a client with a slightly slow clock accepts a fresh cert.
_CLOCK_SKEW = dt.timedelta(minutes=5)

CA_CERT_NAME = "ca.pem"
CA_KEY_NAME = "ca.key"
CERT_NAME = "server.pem"
KEY_NAME = "server.key"


@dataclass(frozen=True)
class DevTls:
    ca_cert: Path
    cert: Path
    key: Path
    # The CA's key stays next to it so the server cert can be re-issued under the same CA.
    ca_key: Path


def ensure_dev_tls(directory: Path) -> DevTls:
    """Return dev TLS files in ``directory``, creating or renewing them as needed.

    The server certificate is valid for DNS ``localhost`` and IPs 127.0.0.1 and ::1.
    When only the server certificate is missing or expiring, it is re-issued under the
    existing CA, so a CA already trusted by a browser stays valid.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    tls = DevTls(
        ca_cert=directory / CA_CERT_NAME,
        cert=directory / CERT_NAME,
        key=directory / KEY_NAME,
        ca_key=directory / CA_KEY_NAME,
    )
    now = dt.datetime.now(dt.UTC)

    ca = load_pair(tls.ca_cert, tls.ca_key, now)
    if ca is None:
        ca = _make_ca(now)
        write_key(tls.ca_key, ca[1])
        write_cert(tls.ca_cert, ca[0])
        server = None
    else:
        server = load_pair(tls.cert, tls.key, now)
        if server is not None and not issued_by(server[0], ca[0]):
            server = None
    if server is None:
        cert, key = _make_server_cert(ca[0], ca[1], now)
        write_key(tls.key, key)
        write_cert(tls.cert, cert)
    return tls


def load_pair(
    cert_path: Path, key_path: Path, now: dt.datetime, renew_before: dt.timedelta | None = None
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    """The cert and key if both exist, parse, match and stay valid beyond ``renew_before``
    (default RENEW_BEFORE, read at each call)."""
    renew_before = RENEW_BEFORE if renew_before is None else renew_before
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.public_key() != key.public_key():
        return None
    if cert.not_valid_after_utc - now < renew_before or cert.not_valid_before_utc > now:
        return None
    return cert, key


def issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Signed by this CA's key (a CA made again the same day has the same name, not the same key)."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _make_ca(now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tenantmesh development"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Tenantmesh dev CA {now:%Y-%m-%d}"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _make_server_cert(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    return issue_leaf(ca_cert, ca_key, now, "localhost", names, VALIDITY, (ExtendedKeyUsageOID.SERVER_AUTH,))


def issue_leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    common_name: str,
    names: list[x509.GeneralName],
    validity: dt.timedelta,
    usages: tuple[x509.ObjectIdentifier, ...],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new key and its certificate from the dev CA (never beyond the CA's own expiry)."""
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def write_cert(path: Path, cert: x509.Certificate) -> None:
    _atomic_write(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _atomic_write(path, pem, 0o600)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    """Write via a temp file in the same directory (created 0600) and rename over ``path``,
    so a reader never sees half a file and a key is never world-readable, even briefly."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
