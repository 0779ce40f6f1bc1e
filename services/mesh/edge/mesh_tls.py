"""The edge's side of the mesh's mutual TLS: its own certificate towards the services.

Envoy reads the certificate and the CA through file-based SDS: the two small documents
written here point at the files and at the directories holding them, and Envoy watches
those directories, so a re-issued certificate (a rename into the directory, as
``make run``, cert-manager and kubelet do) is used for new connections without a restart.
Each upstream's certificate must carry the URI SAN of the service the cluster is for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from services.runtime.mesh_tls import EDGE, MeshTls, spiffe_id
from services.runtime.private_files import private_directory, private_file

# Names of SDS resources (paths to files, no secret in them).
CERTIFICATE_SECRET = "mesh_edge_certificate"  # noqa: S105
CA_SECRET = "mesh_ca"  # noqa: S105
_SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"  # noqa: S105


@dataclass(frozen=True)
class EdgeMeshTls:
    trust_domain: str
    ca_file: Path
    cert_file: Path
    key_file: Path
    # Where the SDS documents are written (the rendered config points at them).
    sds_dir: Path

    @property
    def certificate_sds(self) -> Path:
        return self.sds_dir / "mesh-certificate.json"

    @property
    def ca_sds(self) -> Path:
        return self.sds_dir / "mesh-ca.json"

    def identity_of(self, service: str) -> str:
        """The URI SAN the certificate of ``service`` must carry."""
        return spiffe_id(self.trust_domain, service)


def edge_mesh_tls(tls: MeshTls, sds_dir: Path) -> EdgeMeshTls:
    """The edge's files in the process's mesh TLS layout (its own pair is the one named ``edge``)."""
    files = tls.files_of(EDGE)
    return EdgeMeshTls(tls.trust_domain, tls.ca_file, files.cert, files.key, sds_dir)


def sds_documents(mesh: EdgeMeshTls) -> dict[Path, str]:
    """The SDS files Envoy reads the edge's certificate and the mesh CA from (JSON, valid YAML)."""
    certificate = {
        "@type": _SECRET_TYPE,
        "name": CERTIFICATE_SECRET,
        "tls_certificate": {
            "certificate_chain": {"filename": str(mesh.cert_file)},
            "private_key": {"filename": str(mesh.key_file)},
            "watched_directory": {"path": str(mesh.cert_file.parent)},
        },
    }
    ca = {
        "@type": _SECRET_TYPE,
        "name": CA_SECRET,
        "validation_context": {
            "trusted_ca": {"filename": str(mesh.ca_file)},
            "watched_directory": {"path": str(mesh.ca_file.parent)},
        },
    }
    return {
        mesh.certificate_sds: json.dumps({"resources": [certificate]}, indent=2) + "\n",
        mesh.ca_sds: json.dumps({"resources": [ca]}, indent=2) + "\n",
    }


def write_sds_documents(mesh: EdgeMeshTls) -> None:
    private_directory(mesh.sds_dir)
    for path, text in sds_documents(mesh).items():
        private_file(path)
        path.write_text(text, encoding="utf-8")
