"""Render the edge's Envoy config for a multi-process deployment.

    python -m services.mesh.render [--services tenants,auth] [-o envoy.yaml]

In production every service runs in its own process/container, so the edge
cannot ask a runner where the services listen: each upstream's host and port
come from ``TENANTMESH_<SERVICE>_ADDR`` (``host:port``; the host may be an IP
address, giving a STATIC cluster, or a DNS name, giving a STRICT_DNS cluster that
balances over every address the name resolves to, e.g. a headless Kubernetes
Service). Everything else comes from ``TENANTMESH_EDGE_*``. Only the services
named with ``--services`` are routed (default: every built service of the manifest,
services/manifest.py). Each one gets the proto packages of its public API (the
manifest's ``api``), which must be in the descriptor set; ``tenantmesh.meta.v1``
(served by every process) goes to the first one listed, and internal packages
(``tenantmesh.lifecycle.v1``) to none.

TLS is required: set TENANTMESH_EDGE_TLS_CERT_FILE and TENANTMESH_EDGE_TLS_KEY_FILE,
or pass ``--dev-tls DIR`` to generate (once) and use development material.

Behind the edge, mutual TLS: the edge's own mesh certificate, key and the mesh CA come from
TENANTMESH_MESH_TLS_CERT_FILE, _KEY_FILE and _CA_FILE (the certificate must name the edge,
``spiffe://<trust domain>/svc/edge``); Envoy reads them through two SDS files written
next to ``--output`` (``sds/``), and picks up re-issued files without a restart.
TENANTMESH_MESH_TLS=off renders plaintext upstreams (tests and benchmarks only).

The global per-tenant rate limit: the edge asks the rate limit service (TENANTMESH_RATELIMIT_ADDR)
about every request of a tenant, unless TENANTMESH_EDGE_GLOBAL_RATE_LIMIT=off (then each Envoy
keeps its own per-tenant buckets).

Exit status: 0 rendered, 2 bad configuration (message on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from google.protobuf.message import DecodeError

from services.mesh.apps import META_PACKAGE
from services.mesh.edge import (
    DEFAULT_DESCRIPTOR_PATH,
    DEFAULT_TEMPLATE_DIR,
    DEFAULT_TEMPLATE_NAME,
    EdgeMeshTls,
    EdgeSettings,
    GlobalRateLimit,
    Upstream,
    edge_mesh_tls,
    render_envoy_config,
    write_sds_documents,
)
from services.mesh.settings import load_edge_settings, load_global_rate_limit, uses_dev_tls
from services.mesh.static_site import (
    OPENAPI_PATH,
    SWAGGER_UI_DIR,
    StaticFile,
    docs_pages,
    largest_page,
    write_static_files,
)
from services.runtime.config import ConfigError, Settings, load_settings, platform_manifest
from services.runtime.manifest import Manifest
from services.runtime.mesh_tls import EDGE, MeshTlsError

# The service the edge's ratelimit filter asks (services/manifest.py).
RATE_LIMIT_SERVICE = "ratelimit"


def default_services(manifest: Manifest) -> tuple[str, ...]:
    """What the edge routes unless told otherwise: every built service, in manifest order."""
    return tuple(spec.name for spec in manifest.built if spec.api)


def parse_services(value: str, manifest: Manifest | None = None) -> tuple[str, ...]:
    """``"tenants, auth"`` -> ("tenants", "auth"); unknown or unbuilt names and an empty list are errors."""
    manifest = manifest or platform_manifest()
    names: list[str] = []
    for raw in value.split(","):
        name = raw.strip()
        if name and name not in names:
            names.append(name)
    unknown = [n for n in names if n not in manifest.names]
    if unknown:
        raise ConfigError(f"--services: unknown services {unknown}; known: {list(manifest.names)}")
    unbuilt = [n for n in names if n not in default_services(manifest)]
    if unbuilt:
        raise ConfigError(f"--services: {', '.join(unbuilt)} serve no public API (not built yet)")
    if not names:
        raise ConfigError("--services: name at least one service")
    return tuple(names)


def upstreams_from_settings(settings: Settings, services: Sequence[str]) -> list[Upstream]:
    """One upstream per service, at its TENANTMESH_<SERVICE>_ADDR, serving its public API packages.

    Every process serves ``tenantmesh.meta.v1``; the edge sends it to the first service,
    as the single-process runner does (services/mesh/runner.py).
    """
    upstreams = []
    for index, name in enumerate(services):
        own = settings.manifest.get(name).api
        host, _, port = settings.address_of(name).rpartition(":")
        served = (*own, META_PACKAGE) if index == 0 else own
        # An IPv6 literal may be written in brackets ("[::1]:50051"); Envoy wants it bare.
        upstreams.append(Upstream(name=name, host=host.strip("[]"), port=int(port), packages=served))
    return upstreams


def global_rate_limit_from(env: Mapping[str, str], settings: Settings) -> GlobalRateLimit | None:
    """Deployments run the rate limit service (on their Redis) at TENANTMESH_RATELIMIT_ADDR."""
    if RATE_LIMIT_SERVICE not in settings.manifest.names:
        return None
    host, _, port = settings.address_of(RATE_LIMIT_SERVICE).rpartition(":")
    return load_global_rate_limit(env, RATE_LIMIT_SERVICE, host.strip("[]"), int(port))


def edge_settings_from_env(
    env: Mapping[str, str], *, dev_tls_dir: Path | None, descriptor: Path | None
) -> EdgeSettings:
    tls_vars = ("TENANTMESH_EDGE_TLS_CERT_FILE", "TENANTMESH_EDGE_TLS_KEY_FILE")
    given = [name for name in tls_vars if env.get(name, "").strip()]
    if len(given) == 1:
        missing = next(name for name in tls_vars if name not in given)
        raise ConfigError(f"{given[0]} is set but {missing} is not")
    tls_dir = None
    if uses_dev_tls(env):
        if dev_tls_dir is None:
            raise ConfigError(
                "set TENANTMESH_EDGE_TLS_CERT_FILE and TENANTMESH_EDGE_TLS_KEY_FILE "
                "(or pass --dev-tls DIR for development material)"
            )
        # Imported here: only development renders need the certificate machinery.
        from services.mesh.devtls import ensure_dev_tls  # noqa: PLC0415

        tls_dir = ensure_dev_tls(dev_tls_dir).cert.parent
    edge = load_edge_settings(env, tls_dir=tls_dir)
    if descriptor is not None:
        edge = dataclasses.replace(edge, descriptor_path=descriptor)
    if not edge.descriptor_path.is_file():
        raise ConfigError(f"descriptor set not found: {edge.descriptor_path} (use --descriptor)")
    return edge


def edge_mesh_tls_from(settings: Settings, sds_dir: Path | None) -> EdgeMeshTls | None:
    """The edge's mesh certificate in a deployment: its own files (checked to name the edge)."""
    tls = settings.mesh_tls
    if tls is None:
        return None
    if tls.shared is None:
        raise ConfigError(
            "the edge reaches the services over mutual TLS: set TENANTMESH_MESH_TLS_CA_FILE, "
            "TENANTMESH_MESH_TLS_CERT_FILE and TENANTMESH_MESH_TLS_KEY_FILE (the edge's certificate), "
            "or TENANTMESH_MESH_TLS=off for plaintext upstreams"
        )
    try:
        tls.read(EDGE)
    except MeshTlsError as exc:
        raise ConfigError(str(exc)) from None
    if sds_dir is None:
        raise ConfigError("with mesh TLS the edge's SDS files are written next to the config: use --output")
    return edge_mesh_tls(tls, sds_dir)


def render(
    env: Mapping[str, str],
    services: Sequence[str],
    *,
    template_dir: Path = DEFAULT_TEMPLATE_DIR,
    descriptor: Path | None = None,
    dev_tls_dir: Path | None = None,
    sds_dir: Path | None = None,
    static_dir: Path | None = None,
    openapi: Path = OPENAPI_PATH,
    swagger_ui: Path = SWAGGER_UI_DIR,
) -> str:
    """The Envoy bootstrap for ``services``, configured from ``env``; with mesh TLS, also writes the
    SDS files it points at into ``sds_dir``. Raises ConfigError.

    With ``static_dir``, the static pages (``/openapi.json`` from ``openapi``, ``/docs`` from
    ``swagger_ui`` when it is there) are written into it and Envoy answers them itself."""
    settings = load_settings(env)
    edge = edge_settings_from_env(env, dev_tls_dir=dev_tls_dir, descriptor=descriptor)
    edge = dataclasses.replace(edge, global_rate_limit=global_rate_limit_from(env, settings))
    mesh = edge_mesh_tls_from(settings, sds_dir)
    if mesh is not None:
        edge = dataclasses.replace(edge, mesh_tls=mesh)
        write_sds_documents(mesh)
    if not (template_dir / DEFAULT_TEMPLATE_NAME).is_file():
        raise ConfigError(f"{DEFAULT_TEMPLATE_NAME} not found in {template_dir} (use --template-dir)")
    try:
        upstreams = upstreams_from_settings(settings, services)
        files: list[StaticFile] = []
        largest = 0
        if static_dir is not None:
            pages = docs_pages(openapi, swagger_ui)
            files, largest = write_static_files(pages, static_dir), largest_page(pages)
        return render_envoy_config(
            edge, upstreams, static_files=files, static_max_body=largest, template_dir=template_dir
        )
    except DecodeError as exc:
        raise ConfigError(f"cannot read the descriptor set {edge.descriptor_path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except ValueError as exc:  # bad upstream, or packages missing from the descriptor set
        raise ConfigError(str(exc)) from None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so a reader never sees half a config."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.mesh.render",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--services",
        default=",".join(default_services(platform_manifest())),
        help="comma-separated services the edge routes (default: %(default)s)",
    )
    parser.add_argument("-o", "--output", type=Path, help="write the config here (default: stdout)")
    parser.add_argument(
        "--descriptor",
        type=Path,
        help=f"descriptor set Envoy transcodes with (default: {DEFAULT_DESCRIPTOR_PATH})",
    )
    parser.add_argument(
        "--template-dir",
        type=Path,
        default=DEFAULT_TEMPLATE_DIR,
        help=f"directory holding {DEFAULT_TEMPLATE_NAME} (default: %(default)s)",
    )
    parser.add_argument(
        "--static-dir",
        type=Path,
        metavar="DIR",
        help="serve /openapi.json and /docs from Envoy itself, with their files written into DIR",
    )
    parser.add_argument(
        "--openapi", type=Path, default=OPENAPI_PATH, help="the OpenAPI document (default: %(default)s)"
    )
    parser.add_argument(
        "--swagger-ui",
        type=Path,
        default=SWAGGER_UI_DIR,
        help="swagger-ui-dist's files, for /docs (default: %(default)s; without them only /openapi.json)",
    )
    parser.add_argument(
        "--dev-tls",
        type=Path,
        metavar="DIR",
        help="when TENANTMESH_EDGE_TLS_* are unset, use (and create) development TLS material in DIR",
    )
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        services = parse_services(args.services)
        config = render(
            os.environ if env is None else env,
            services,
            template_dir=args.template_dir,
            descriptor=args.descriptor,
            dev_tls_dir=args.dev_tls,
            sds_dir=args.output.parent / "sds" if args.output is not None else None,
            static_dir=args.static_dir,
            openapi=args.openapi,
            swagger_ui=args.swagger_ui,
        )
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.write(config)
    else:
        write_atomically(args.output, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
