"""What `make run` prints once the mesh is up: where it is and how to call it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.mesh.edge_config import EdgeSettings
from services.runtime.config import Settings


def banner(settings: Settings, edge: EdgeSettings, ca_file: Path | None, services: Sequence[str]) -> str:
    host = "localhost" if edge.bind_address in ("127.0.0.1", "0.0.0.0") else edge.bind_address  # noqa: S104
    https = f"https://{host}:{edge.https_port}"
    plain = f"http://{host}:{edge.http_port}"
    cacert = f"--cacert {ca_file} " if ca_file is not None else ""
    backend = "SQLite files in " + str(settings.data_dir) if settings.database.is_sqlite else "MySQL/MariaDB"
    events = "Redis" if settings.redis_url else "in-process"
    lines = [
        "",
        "Tenantmesh is up.",
        "",
        f"  REST + gRPC over TLS   {https}",
        f"  REST + gRPC plain      {plain}   (local use)",
        f"  Envoy admin            http://127.0.0.1:{edge.admin_port}",
        *(f"  {name:<22} {settings.address_of(name)}   (gRPC, direct)" for name in services),
        f"  storage                {backend}; events {events}",
    ]
    if ca_file is not None:
        lines.append(f"  dev CA certificate     {ca_file}")
    lines += [
        "",
        "Try it:",
        f"  curl {cacert}{https}/v1/meta/server-info",
        f"  curl {cacert}-X POST {https}/v1/tenants -H 'content-type: application/json' "
        '-d \'{"slug": "acme", "displayName": "Acme"}\'',
        f"  curl {cacert}{https}/v1/tenants",
        "  .venv/bin/tenantctl tenants list",
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)
