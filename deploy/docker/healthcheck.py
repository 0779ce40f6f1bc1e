#!/usr/bin/env python
"""Container health checks for the Tenantmesh image (no curl or grpc_health_probe in it).

    tenantmesh-healthcheck grpc [HOST:PORT] [--service NAME] [--mesh-name NAME]
                                                              grpc.health.v1 Check is SERVING
    tenantmesh-healthcheck envoy                              Envoy admin /ready answers LIVE
    tenantmesh-healthcheck envoy-drain [--wait SECONDS]       start a graceful drain, then wait

Envoy's admin interface only listens on 127.0.0.1, so the kubelet cannot reach it
with an httpGet probe; an exec probe running this script inside the pod can.
The services' ports are mutual TLS only (and the kubelet's own gRPC probe speaks plaintext), so
the gRPC check presents the process's own mesh certificate (TENANTMESH_MESH_TLS_CA_FILE,
_CERT_FILE, _KEY_FILE) and checks the server's against ``--mesh-name``, the service's name;
plaintext only with TENANTMESH_MESH_TLS=off.
Exit status 0 healthy, 1 not.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def admin_url(path: str) -> str:
    port = os.environ.get("TENANTMESH_EDGE_ADMIN_PORT", "").strip() or "9901"
    return f"http://127.0.0.1:{port}{path}"


def grpc_channel(address: str, mesh_name: str) -> object:
    import grpc  # noqa: PLC0415 - only the gRPC check needs it

    if os.environ.get("TENANTMESH_MESH_TLS", "").strip().lower() == "off":
        return grpc.insecure_channel(address)
    files = [os.environ.get(f"TENANTMESH_MESH_TLS_{part}_FILE", "").strip() for part in ("CA", "KEY", "CERT")]
    if not all(files):
        raise SystemExit("tenantmesh-healthcheck: set TENANTMESH_MESH_TLS_CA_FILE, _CERT_FILE and _KEY_FILE")
    ca, key, cert = (open(path, "rb").read() for path in files)  # noqa: PTH123, SIM115 - tiny files
    credentials = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
    return grpc.secure_channel(address, credentials, options=[("grpc.ssl_target_name_override", mesh_name)])


def check_grpc(address: str, service: str, mesh_name: str) -> int:
    import grpc  # noqa: PLC0415 - only this check needs it
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    with grpc_channel(address, mesh_name) as channel:  # type: ignore[attr-defined]
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            print(f"{address}: {exc.code().name}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    if response.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"{address}: {status}", file=sys.stderr)
        return 1
    return 0


def check_envoy() -> int:
    try:
        with urllib.request.urlopen(admin_url("/ready"), timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read().decode(errors="replace").strip()
    except (OSError, urllib.error.URLError) as exc:
        print(f"envoy /ready: {exc}", file=sys.stderr)
        return 1
    if body != "LIVE":
        print(f"envoy /ready: {body}", file=sys.stderr)
        return 1
    return 0


def drain_envoy(wait_seconds: float) -> int:
    """preStop hook: fail readiness (/ready answers 503 DRAINING, so the pod leaves the
    Service endpoints), start a graceful listener drain (GOAWAY / Connection: close on open
    connections), then wait so load balancers move away before SIGTERM arrives."""
    for path in ("/healthcheck/fail", "/drain_listeners?graceful&inboundonly"):
        request = urllib.request.Request(admin_url(path), method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):  # noqa: S310
                pass
        except (OSError, urllib.error.URLError) as exc:
            print(f"envoy {path}: {exc}", file=sys.stderr)
    time.sleep(wait_seconds)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tenantmesh-healthcheck", description=__doc__)
    checks = parser.add_subparsers(dest="check", required=True)
    grpc_check = checks.add_parser("grpc", help="grpc.health.v1 Check")
    grpc_check.add_argument("address", nargs="?", default="127.0.0.1:50051")
    grpc_check.add_argument("--service", default="", help='service name to ask about ("" = the server)')
    grpc_check.add_argument("--mesh-name", default="", help="the service's name: what its certificate is issued for")
    checks.add_parser("envoy", help="Envoy admin /ready")
    drain = checks.add_parser("envoy-drain", help="graceful Envoy drain (preStop hook)")
    drain.add_argument("--wait", type=float, default=10.0, help="seconds to wait after starting the drain")
    args = parser.parse_args(argv)
    if args.check == "grpc":
        return check_grpc(args.address, args.service, args.mesh_name)
    if args.check == "envoy":
        return check_envoy()
    return drain_envoy(args.wait)


if __name__ == "__main__":
    sys.exit(main())
