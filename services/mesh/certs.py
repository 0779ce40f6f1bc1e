"""Mesh certificates for a deployment without cert-manager (docker compose, one host).

    python -m services.mesh.certs DIR [--days 30] [--trust-domain tenantmesh.local]

Makes a CA once (``DIR/ca/``: ``ca.pem`` and its key, which never leaves this directory) and
a certificate for every built service, the edge and tenantctl, each in ``DIR/<name>/`` as
cert-manager lays out a Secret: ``tls.crt``, ``tls.key`` and ``ca.crt``. A container mounts
its own directory (the TENANTMESH_MESH_TLS_*_FILE variables point into it). Run it again
before the certificates expire (e.g. daily from cron): it re-issues those with less than a
third of their life left, and the running processes and Envoy use the new files from their
next connection on, without a restart.

Exit status: 0 done, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from services.mesh.dev_mesh_tls import dev_ca, ensure_certificate
from services.runtime.config import platform_manifest
from services.runtime.mesh_tls import DEFAULT_TRUST_DOMAIN, EDGE, TENANTCTL, CertificateFiles, MeshTls
from services.runtime.mesh_tls.identity import check_trust_domain


def identities() -> list[str]:
    return [*(spec.name for spec in platform_manifest().built), EDGE, TENANTCTL]


def issue(directory: Path, names: Sequence[str], days: int, trust_domain: str) -> list[str]:
    """Issues what is missing or due under ``directory``; returns the names issued."""
    validity = dt.timedelta(days=days)
    now = dt.datetime.now(dt.UTC)
    ca_file = directory / "ca" / "ca.pem"
    ca = dev_ca(MeshTls(trust_domain, ca_file, directory=directory), create=True)
    issued: list[str] = []
    for name in names:
        own = directory / name
        tls = MeshTls(trust_domain, ca_file, shared=CertificateFiles(own / "tls.crt", own / "tls.key"))
        if ensure_certificate(tls, name, ca, now, validity, validity / 3):
            issued.append(name)
        # The CA certificate next to each pair, as in a cert-manager Secret; renamed into place so
        # a process watching the directory never reads half a file.
        partial = own / ".ca.crt.new"
        shutil.copyfile(ca_file, partial)
        partial.chmod(0o644)
        partial.replace(own / "ca.crt")
    return issued


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.mesh.certs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument("--days", type=int, default=30, help="validity of each certificate (default: %(default)s)")
    parser.add_argument("--trust-domain", default=DEFAULT_TRUST_DOMAIN, help="default: %(default)s")
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 365:
        parser.error("--days must be between 1 and 365")
    try:
        trust_domain = check_trust_domain(args.trust_domain)
    except ValueError as exc:
        parser.error(str(exc))
    issued = issue(args.directory.resolve(), identities(), args.days, trust_domain)
    print(f"issued: {', '.join(issued) if issued else 'nothing (every certificate is current)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
