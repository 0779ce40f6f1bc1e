"""What `make run` prints once the mesh is up: where it is and how to call it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.mesh.edge import EdgeSettings
from services.runtime.config import Settings


@dataclass(frozen=True)
class AdminLogin:
    email: str
    # Shown only on the start that generated it.
    generated_password: str | None
    # TENANTMESH_ADMIN_PASSWORD was set on a later start, where it does nothing.
    password_variable_ignored: bool = False


def banner(
    settings: Settings,
    edge: EdgeSettings,
    ca_file: Path | None,
    services: Sequence[str],
    admin: AdminLogin | None = None,
    console: bool = False,
    metrics_url: str | None = None,
) -> str:
    host = "localhost" if edge.bind_address in ("127.0.0.1", "0.0.0.0") else edge.bind_address  # noqa: S104
    https = f"https://{host}:{edge.https_port}"
    plain = f"http://{host}:{edge.http_port}"
    cacert = f"--cacert {ca_file} " if ca_file is not None else ""
    backend = "SQLite files in " + str(settings.data_dir) if settings.database.is_sqlite else "MySQL/MariaDB"
    events = "Redis" if settings.redis_url else "in-process"
    email = admin.email if admin is not None else "ADMIN_EMAIL"
    lines = [
        "",
        "Tenantmesh is up.",
        "",
        f"  REST + gRPC over TLS   {https}",
        f"  REST + gRPC plain      {plain}   (local use)",
        *([f"  web console            {https}/"] if console else []),
        f"  API reference          {https}/docs   (OpenAPI document: {https}/openapi.json)",
        f"  Envoy admin            http://127.0.0.1:{edge.admin_port}",
        *(f"  {name:<22} {settings.address_of(name)}   (gRPC, direct)" for name in services),
        f"  storage                {backend}; events {events}",
    ]
    if settings.mesh_tls is not None:
        where = settings.mesh_tls.directory or settings.mesh_tls.ca_file.parent
        lines.append(f"  mesh TLS               mutual TLS on every hop behind the edge ({where})")
    else:
        lines.append("  mesh TLS               OFF: plaintext behind the edge, no identities (TENANTMESH_MESH_TLS=off)")
    if metrics_url is not None:
        lines.append(f"  metrics                {metrics_url}   (Prometheus; Envoy's: admin /stats/prometheus)")
    if ca_file is not None:
        lines.append(f"  dev CA certificate     {ca_file}")
    if admin is not None:
        lines.append(f"  platform admin         {admin.email}  (tenant: platform)")
        if admin.generated_password is not None:
            lines.append(f"  admin password         {admin.generated_password}   <- shown this once; change it")
        else:
            lines.append("  admin password         as set on the first start (lost: tenantctl admin reset-password)")
        if admin.password_variable_ignored:
            lines.append("  note                   TENANTMESH_ADMIN_PASSWORD applies on the first start only: not used")
    login_body = f'{{"tenant": "platform", "email": "{email}", "password": "PASSWORD"}}'
    lines += [
        "",
        "Try it:",
        f"  curl {cacert}{https}/v1/meta/server-info",
        f"  TOKEN=$(curl -s {cacert}-X POST {https}/v1/auth:login -d '{login_body}' \\",
        '      | python3 -c \'import json,sys; print(json.load(sys.stdin)["tokens"]["accessToken"])\')',
        f'  curl {cacert}-X POST {https}/v1/tenants -H "authorization: Bearer $TOKEN" '
        '-d \'{"slug": "acme", "displayName": "Acme"}\'',
        f'  curl {cacert}{https}/v1/tenants -H "authorization: Bearer $TOKEN"',
        "  .venv/bin/tenantctl tenants list   (authenticates with the platform service key in the data directory)",
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)
